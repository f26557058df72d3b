//! watch-fanout: N sessions watch one node, one writer sets it, and a round lasts until every
//! watcher has its notification. The recorded latency of a round is from the writer sending
//! setData to the last watcher's notification leaving the socket. Only then do the watchers set
//! their watches again (getData with watch=true), and the next round waits for all of them:
//! re-arming while notifications are still arriving put the load generator's own getData
//! traffic (a send per watcher, each delivered on loopback by the sending core) inside the
//! measured window, for both servers, and on two cores the client's work bounded the round.
//! Besides the rounds, it reports each notification's delay and the delay to a round's first
//! notification (the server's commit path before the spread of its sends); warm-up rounds count
//! in neither. With `--rate`, rounds start on a fixed schedule; a round whose turn came while
//! the previous one (or its re-arming) was still running is timed from its turn, not from its
//! late start.

use crate::client::{Client, ClientError, Notification};
use crate::pace::{self, Pacer};
use crate::report::{Progress, Recorder};
use crate::tree::create_request;
use crate::workload::WorkerOutput;
use corral_core::jute::{create_mode, err, event, Request};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// A round that has not completed in this long is abandoned and counted as an error.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

/// What a watcher tells the coordinator.
enum WatcherMessage {
    /// Its watch is set (its getData with watch=true was answered).
    Armed,
    /// It received the change notification at this instant.
    Notified(Instant),
    /// It lost its session.
    Failed(String),
}

/// Connects the writer (to the first server) and `watchers` sessions (round robin), creates the watched node, and spawns the
/// coordinator, which runs rounds until the phase stops.
pub async fn spawn(
    servers: &[SocketAddr],
    session_timeout_ms: i32,
    watchers: usize,
    path: String,
    value: Vec<u8>,
    rate: Option<f64>,
    progress: Arc<Progress>,
) -> Result<JoinHandle<WorkerOutput>, ClientError> {
    let (writer, _) = Client::connect(servers[0], session_timeout_ms).await?;
    let reply = writer
        .call(&create_request(
            path.clone(),
            value.clone(),
            create_mode::PERSISTENT,
        ))
        .await?;
    if reply.header.err != err::OK && reply.header.err != err::NODE_EXISTS {
        return Err(ClientError::Unexpected(format!(
            "create {path}: error {}",
            reply.header.err
        )));
    }
    let (tx, rx) = mpsc::unbounded_channel();
    // The coordinator bumps this when a round's notifications are all in: time to re-arm.
    let (rearm_tx, rearm_rx) = watch::channel(0u64);
    let mut tasks = Vec::with_capacity(watchers);
    for i in 0..watchers {
        let server = servers[i % servers.len()];
        let (client, events) = Client::connect(server, session_timeout_ms).await?;
        tasks.push(tokio::spawn(watcher(
            client,
            events,
            path.clone(),
            tx.clone(),
            rearm_rx.clone(),
        )));
    }
    Ok(tokio::spawn(async move {
        let pacer = rate.map(|rate| Pacer::new(rate, 1, 0, Instant::now()));
        let rounds = Rounds {
            watchers,
            pacer,
            progress,
        };
        let out = coordinate(writer, rx, rearm_tx, rounds, path, value).await;
        for task in tasks {
            task.abort();
        }
        out
    }))
}

async fn watcher(
    client: Client,
    mut events: mpsc::UnboundedReceiver<Notification>,
    path: String,
    tx: mpsc::UnboundedSender<WatcherMessage>,
    mut rearm: watch::Receiver<u64>,
) {
    let arm = Request::GetData {
        path: path.clone(),
        watch: true,
    };
    loop {
        match client.call(&arm).await {
            Ok(reply) if reply.header.err == err::OK => {}
            Ok(reply) => {
                let reason = format!("getData {path}: error {}", reply.header.err);
                let _ = tx.send(WatcherMessage::Failed(reason));
                return;
            }
            Err(e) => {
                let _ = tx.send(WatcherMessage::Failed(e.to_string()));
                return;
            }
        }
        if tx.send(WatcherMessage::Armed).is_err() {
            return;
        }
        loop {
            let Some(n) = events.recv().await else {
                let _ = tx.send(WatcherMessage::Failed("session ended".to_string()));
                return;
            };
            if n.event.event_type == event::NODE_DATA_CHANGED && n.event.path == path {
                let _ = tx.send(WatcherMessage::Notified(n.received_at));
                break;
            }
        }
        // Not before every watcher of the round is notified.
        if rearm.changed().await.is_err() {
            return;
        }
    }
}

/// Round state: how many watchers are armed and notified, and the first and latest
/// notification.
#[derive(Default)]
struct Round {
    armed: usize,
    notified: usize,
    first_notified_at: Option<Instant>,
    last_notified_at: Option<Instant>,
}

/// How the rounds run: how many watchers each waits for, on what schedule (`None`: each round
/// right after the last), until when.
struct Rounds {
    watchers: usize,
    pacer: Option<Pacer>,
    progress: Arc<Progress>,
}

async fn coordinate(
    writer: Client,
    mut rx: mpsc::UnboundedReceiver<WatcherMessage>,
    rearm: watch::Sender<u64>,
    rounds: Rounds,
    path: String,
    value: Vec<u8>,
) -> WorkerOutput {
    let Rounds {
        watchers,
        mut pacer,
        progress,
    } = rounds;
    let mut out = WorkerOutput::default();
    let mut each_watcher = Recorder::new();
    // From the write to the round's first notification: the server's commit path alone, before
    // the spread of its sends.
    let mut first = Recorder::new();
    let set = Request::SetData {
        path,
        data: value,
        version: -1,
    };
    // Wait until every watch is set before the first write.
    let mut round = Round {
        notified: watchers,
        ..Round::default()
    };
    while !progress.stopped() {
        if let Err(e) = settle(&mut rx, &mut round, watchers, None, None).await {
            eprintln!("watch-fanout: {e}");
            out.recorder.errors += 1;
            progress.error();
            break;
        }
        round = Round::default();
        // At a fixed rate, a round whose turn came while the last one (or its re-arming) was
        // still running is timed from its turn.
        let sent_at = match &mut pacer {
            None => Instant::now(),
            Some(pacer) => pace::wait_turn(pacer).await,
        };
        let write = writer.send(&set);
        // Warm-up rounds are not recorded, per watcher either.
        let each = progress.measuring().then_some(&mut each_watcher);
        let result = settle(&mut rx, &mut round, watchers, Some(sent_at), each).await;
        let _ = crate::client::wait(write).await;
        // Every watcher has its notification: let them set their watches again.
        rearm.send_modify(|round| *round += 1);
        match (result, round.first_notified_at, round.last_notified_at) {
            (Ok(()), Some(first_at), Some(last)) if progress.measuring() => {
                first.record(first_at.duration_since(sent_at));
                out.recorder.record(last.duration_since(sent_at));
                progress.op();
            }
            (Ok(()), _, _) => {}
            (Err(e), _, _) => {
                eprintln!("watch-fanout: {e}");
                out.recorder.errors += 1;
                progress.error();
                break;
            }
        }
    }
    let _ = writer.close().await;
    out.extra = vec![
        ("watchers".to_string(), watchers as f64),
        (
            "notification_p50_ms".to_string(),
            each_watcher.quantile_ms(0.5),
        ),
        (
            "notification_p99_ms".to_string(),
            each_watcher.quantile_ms(0.99),
        ),
    ];
    out.steps = vec![("first_notification", first)];
    out
}

/// Without `sent_at`, waits until every watcher is notified and armed again; with it, until every
/// watcher is notified, recording each notification's delay in `each_watcher` if given.
async fn settle(
    rx: &mut mpsc::UnboundedReceiver<WatcherMessage>,
    round: &mut Round,
    watchers: usize,
    sent_at: Option<Instant>,
    mut each_watcher: Option<&mut Recorder>,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + ROUND_TIMEOUT;
    let armed_wanted = if sent_at.is_some() { 0 } else { watchers };
    while round.armed < armed_wanted || round.notified < watchers {
        let message = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(message)) => message,
            Ok(None) => return Err("every watcher stopped".to_string()),
            Err(_) => {
                return Err(format!(
                    "round timed out: {}/{watchers} notified, {}/{watchers} armed",
                    round.notified, round.armed
                ))
            }
        };
        match message {
            WatcherMessage::Armed => round.armed += 1,
            WatcherMessage::Notified(at) => {
                round.notified += 1;
                round.first_notified_at = Some(round.first_notified_at.map_or(at, |t| t.min(at)));
                round.last_notified_at = round.last_notified_at.max(Some(at));
                if let (Some(sent_at), Some(each)) = (sent_at, each_watcher.as_deref_mut()) {
                    each.record(at.duration_since(sent_at));
                }
            }
            WatcherMessage::Failed(reason) => return Err(reason),
        }
    }
    Ok(())
}
