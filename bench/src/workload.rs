//! The timed workloads and the phase that runs them: prepare, warm up, measure, drain, clean up.

use crate::client::{self, Client, ClientError, ReplyFuture};
use crate::fanout;
use crate::pace::{self, Pacer};
use crate::report::{progress_line, Progress, Recorder, Summary};
use crate::tree::{self, create_request, key_path};
use clap::ValueEnum;
use corral_core::jute::{create_mode, err, MultiOp, Request, Response};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// What the sessions do during the timed phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Persistent sequential creates under one parent.
    Create,
    /// setData on random keys.
    Set,
    /// getData on random keys.
    Get,
    /// 90% getData, 10% setData on random keys.
    Mixed,
    /// multi of `--multi-ops` setData on random keys.
    Multi,
    /// Each client in a loop: new session, create an ephemeral, close the session.
    EphemeralChurn,
    /// `--clients` sessions watch one node and one writer sets it: time until all are notified.
    WatchFanout,
}

impl Workload {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Mixed => "mixed",
            Workload::Multi => "multi",
            Workload::EphemeralChurn => "ephemeral-churn",
            Workload::WatchFanout => "watch-fanout",
        }
    }

    fn uses_keys(self) -> bool {
        matches!(
            self,
            Workload::Set | Workload::Get | Workload::Mixed | Workload::Multi
        )
    }
}

/// Everything one run needs to know.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The servers to measure; session `i` connects to `servers[i % len]`, setup uses the first.
    pub servers: Vec<SocketAddr>,
    /// The workload.
    pub workload: Workload,
    /// Sessions (each its own connection).
    pub clients: usize,
    /// Requests each session keeps in flight.
    pub in_flight: usize,
    /// Length of the measured phase.
    pub duration: Duration,
    /// Load before measuring starts, not recorded.
    pub warmup: Duration,
    /// Bytes per value written or prepared.
    pub value_bytes: usize,
    /// Keys the key-based workloads spread over.
    pub keys: usize,
    /// setData ops per multi.
    pub multi_ops: usize,
    /// The subtree the run owns; removed at the end.
    pub root: String,
    /// Requested session timeout.
    pub session_timeout_ms: i32,
    /// Seed of the key choice.
    pub seed: u64,
    /// Print a progress line each second.
    pub progress: bool,
    /// Leave the prepared keys in place at the end.
    pub keep: bool,
    /// Operations offered per second over all sessions (rounds per second for watch-fanout,
    /// cycles for ephemeral-churn); `None` runs a closed loop.
    pub rate: Option<f64>,
}

/// The shared, read-only context of the workers.
struct Ctx {
    opts: RunOptions,
    keys_parent: String,
    create_prefix: String,
    value: Vec<u8>,
    progress: Arc<Progress>,
}

/// What one worker hands back.
#[derive(Default)]
pub struct WorkerOutput {
    /// Its measurements.
    pub recorder: Recorder,
    /// Paths it created that must be removed afterwards.
    pub created: Vec<String>,
    /// Workload-specific figures.
    pub extra: Vec<(String, f64)>,
    /// Latencies of parts of an operation (ephemeral-churn's connect, create and close;
    /// watch-fanout's first notification), merged by name over the workers and reported as
    /// `<name>_p50_ms` and `<name>_p99_ms`.
    pub steps: Vec<(&'static str, Recorder)>,
}

/// Runs one workload end to end and returns its summary.
pub async fn run(opts: RunOptions) -> Result<Summary, ClientError> {
    assert!(
        opts.clients > 0 && opts.in_flight > 0,
        "validated by the CLI"
    );
    assert!(!opts.servers.is_empty(), "validated by the CLI");
    let (admin, _) = Client::connect(opts.servers[0], opts.session_timeout_ms).await?;
    let root = opts.root.clone();
    let keys_parent = format!("{root}/k");
    let dirs = [
        root.clone(),
        keys_parent.clone(),
        format!("{root}/c"),
        format!("{root}/e"),
        format!("{root}/w"),
    ];
    tree::ensure_paths(&admin, &dirs).await?;
    let ctx = Arc::new(Ctx {
        keys_parent: keys_parent.clone(),
        create_prefix: format!("{root}/c/n-"),
        value: vec![b'v'; opts.value_bytes],
        progress: Arc::new(Progress::default()),
        opts: opts.clone(),
    });
    if opts.workload.uses_keys() {
        tree::create_keys(&admin, &keys_parent, opts.keys, &ctx.value).await?;
    }
    let handles = spawn_workers(&ctx).await?;
    let (outputs, elapsed) = timed_phase(&ctx, handles).await;
    let mut recorder = Recorder::new();
    let mut created = Vec::new();
    let mut extra = Vec::new();
    let mut steps: Vec<(&'static str, Recorder)> = Vec::new();
    for output in outputs {
        recorder.merge(&output.recorder);
        created.extend(output.created);
        extra.extend(output.extra);
        for (name, step) in output.steps {
            match steps.iter_mut().find(|(n, _)| *n == name) {
                Some((_, merged)) => merged.merge(&step),
                None => steps.push((name, step)),
            }
        }
    }
    for (name, step) in &steps {
        extra.push((format!("{name}_p50_ms"), step.quantile_ms(0.5)));
        extra.push((format!("{name}_p99_ms"), step.quantile_ms(0.99)));
    }
    tree::delete_paths(&admin, created).await?;
    if !opts.keep {
        tree::delete_tree(&admin, &root).await?;
    }
    admin.close().await?;
    let (clients, in_flight) = match opts.workload {
        Workload::EphemeralChurn | Workload::WatchFanout => (opts.clients, 1),
        _ => (opts.clients, opts.in_flight),
    };
    Ok(Summary {
        workload: opts.workload.name().to_string(),
        clients,
        in_flight,
        value_bytes: opts.value_bytes,
        keys: if opts.workload.uses_keys() {
            opts.keys
        } else {
            0
        },
        elapsed,
        rate: opts.rate,
        recorder,
        extra,
    })
}

/// Connects the sessions (before timing starts) and spawns one task per worker.
async fn spawn_workers(ctx: &Arc<Ctx>) -> Result<Vec<JoinHandle<WorkerOutput>>, ClientError> {
    let opts = &ctx.opts;
    match opts.workload {
        Workload::EphemeralChurn => Ok((0..opts.clients)
            .map(|i| tokio::spawn(churn_worker(ctx.clone(), i)))
            .collect()),
        Workload::WatchFanout => {
            let handle = fanout::spawn(
                &opts.servers,
                opts.session_timeout_ms,
                opts.clients,
                format!("{}/w/node", opts.root),
                ctx.value.clone(),
                opts.rate,
                ctx.progress.clone(),
            )
            .await?;
            Ok(vec![handle])
        }
        _ => {
            let mut clients = Vec::with_capacity(opts.clients);
            for i in 0..opts.clients {
                let server = opts.servers[i % opts.servers.len()];
                let (client, _) = Client::connect(server, opts.session_timeout_ms).await?;
                // A follower may lag the leader that took the setup writes: catch up first.
                let sync = Request::Sync {
                    path: opts.root.clone(),
                };
                client.call(&sync).await?;
                clients.push(client);
            }
            Ok(clients
                .into_iter()
                .enumerate()
                .map(|(i, c)| tokio::spawn(session_loop(ctx.clone(), c, i)))
                .collect())
        }
    }
}

/// Warm-up, then the measured window, then stop and collect every worker's output.
async fn timed_phase(
    ctx: &Arc<Ctx>,
    handles: Vec<JoinHandle<WorkerOutput>>,
) -> (Vec<WorkerOutput>, Duration) {
    let progress = &ctx.progress;
    let started = Instant::now();
    let line = ctx.opts.progress.then(|| {
        tokio::spawn(progress_line(
            ctx.opts.workload.name().to_string(),
            progress.clone(),
            started,
        ))
    });
    tokio::time::sleep(ctx.opts.warmup).await;
    progress.start_measuring();
    let measured_from = Instant::now();
    tokio::time::sleep(ctx.opts.duration).await;
    progress.stop();
    let elapsed = measured_from.elapsed();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.await {
            Ok(output) => outputs.push(output),
            Err(e) => eprintln!("a worker failed: {e}"),
        }
    }
    if let Some(line) = line {
        line.abort();
    }
    (outputs, elapsed)
}

/// A small, seedable generator for key choice (SplitMix64); quality is ample for picking keys.
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "cannot pick from nothing");
        (self.next_u64() % n as u64) as usize
    }
}

fn next_request(ctx: &Ctx, rng: &mut SplitMix64) -> Request {
    let opts = &ctx.opts;
    let random_key = |rng: &mut SplitMix64| key_path(&ctx.keys_parent, rng.below(opts.keys));
    let set = |rng: &mut SplitMix64| Request::SetData {
        path: random_key(rng),
        data: ctx.value.clone(),
        version: -1,
    };
    match opts.workload {
        Workload::Create => create_request(
            ctx.create_prefix.clone(),
            ctx.value.clone(),
            create_mode::PERSISTENT_SEQUENTIAL,
        ),
        Workload::Set => set(rng),
        Workload::Get => Request::GetData {
            path: random_key(rng),
            watch: false,
        },
        Workload::Mixed if rng.below(10) == 0 => set(rng),
        Workload::Mixed => Request::GetData {
            path: random_key(rng),
            watch: false,
        },
        Workload::Multi => Request::Multi(
            (0..opts.multi_ops)
                .map(|_| MultiOp::SetData {
                    path: random_key(rng),
                    data: ctx.value.clone(),
                    version: -1,
                })
                .collect(),
        ),
        Workload::EphemeralChurn | Workload::WatchFanout => {
            unreachable!("{:?} has its own worker", opts.workload)
        }
    }
}

/// One session. Closed loop (no `--rate`): it keeps `in_flight` requests outstanding until the
/// phase stops. Fixed rate: it sends its share of the rate on its schedule, with at most
/// `in_flight` outstanding; a request that falls due while all of them are taken waits for a
/// reply and is timed from when it fell due (see `pace`). Replies come in order per connection,
/// so waiting on the oldest request is waiting on the next reply.
async fn session_loop(ctx: Arc<Ctx>, client: Client, index: usize) -> WorkerOutput {
    let opts = &ctx.opts;
    let mut rng = SplitMix64::new(opts.seed ^ (index as u64).wrapping_mul(0x2545_F491));
    let mut pacer = opts
        .rate
        .map(|rate| Pacer::new(rate, opts.clients, index, Instant::now()));
    let mut out = WorkerOutput::default();
    let mut in_flight: VecDeque<(Instant, ReplyFuture)> = VecDeque::with_capacity(opts.in_flight);
    // Since when every slot has been taken, while it lasts.
    let mut full_since: Option<Instant> = None;
    let progress = &ctx.progress;
    loop {
        let now = Instant::now();
        while !progress.stopped() && in_flight.len() < opts.in_flight {
            let started = match &mut pacer {
                None => now,
                Some(pacer) => match pacer.take_due(now) {
                    Some(due) if full_since.is_some_and(|full| due >= full) => due,
                    Some(_) => now,
                    None => break,
                },
            };
            let request = next_request(&ctx, &mut rng);
            in_flight.push_back((started, client.send(&request)));
        }
        full_since = if in_flight.len() < opts.in_flight {
            None
        } else {
            full_since.or(Some(now))
        };
        let may_send = !progress.stopped() && in_flight.len() < opts.in_flight;
        let next_due = pacer.as_ref().filter(|_| may_send).map(Pacer::due);
        let Some((_, front)) = in_flight.front_mut() else {
            match next_due {
                Some(_) => {
                    pace::sleep_until(next_due).await;
                    continue;
                }
                None => break,
            }
        };
        let received = tokio::select! {
            biased;
            received = front => received,
            () = pace::sleep_until(next_due) => continue,
        };
        let Some((started, _)) = in_flight.pop_front() else {
            unreachable!("the front was just awaited");
        };
        let elapsed = started.elapsed();
        let reply = match client::into_reply(received) {
            Ok(reply) => reply,
            Err(e) => {
                eprintln!("session {index}: {e}");
                out.recorder.errors += 1;
                progress.error();
                break;
            }
        };
        if let Some(Response::Create { path }) = reply.body {
            out.created.push(path);
        }
        if !progress.measuring() {
            continue;
        }
        if reply.header.err == err::OK {
            out.recorder.record(elapsed);
            progress.op();
        } else {
            out.recorder.errors += 1;
            progress.error();
        }
    }
    let _ = client.close().await;
    out
}

/// The steps of a churn cycle, in order, as reported.
const CHURN_STEPS: [&str; 3] = ["connect", "create", "close"];

/// One churn cycle: a new session creates an ephemeral node, then closes (which deletes it).
/// Returns when each step ended: the session is established, the node created, the session
/// closed.
async fn churn_once(
    ctx: &Ctx,
    server: SocketAddr,
    path: &str,
) -> Result<[Instant; 3], ClientError> {
    let (client, _) = Client::connect(server, ctx.opts.session_timeout_ms).await?;
    let connected = Instant::now();
    let request = create_request(path.to_string(), ctx.value.clone(), create_mode::EPHEMERAL);
    let reply = client.call(&request).await?;
    if reply.header.err != err::OK {
        return Err(ClientError::Unexpected(format!(
            "create ephemeral {path}: error {}",
            reply.header.err
        )));
    }
    let created = Instant::now();
    client.close().await?;
    Ok([connected, created, Instant::now()])
}

async fn churn_worker(ctx: Arc<Ctx>, index: usize) -> WorkerOutput {
    let path = format!("{}/e/w{index}", ctx.opts.root);
    let server = ctx.opts.servers[index % ctx.opts.servers.len()];
    let mut pacer = ctx
        .opts
        .rate
        .map(|rate| Pacer::new(rate, ctx.opts.clients, index, Instant::now()));
    let mut out = WorkerOutput {
        steps: CHURN_STEPS.map(|name| (name, Recorder::new())).into(),
        ..WorkerOutput::default()
    };
    let progress = &ctx.progress;
    while !progress.stopped() {
        let started = match &mut pacer {
            None => Instant::now(),
            Some(pacer) => pace::wait_turn(pacer).await,
        };
        let result = churn_once(&ctx, server, &path).await;
        if !progress.measuring() {
            continue;
        }
        match result {
            Ok(ends) => {
                let mut from = started;
                for ((_, step), end) in out.steps.iter_mut().zip(ends) {
                    step.record(end.duration_since(from));
                    from = end;
                }
                out.recorder.record(from.duration_since(started));
                progress.op();
            }
            Err(e) => {
                eprintln!("churn {index}: {e}");
                out.recorder.errors += 1;
                progress.error();
            }
        }
    }
    out
}
