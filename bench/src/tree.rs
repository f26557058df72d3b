//! Untimed work on the tree: preparing keys, loading data, removing what a run left.

use crate::client::{wait, Client, ClientError, Reply, ReplyFuture};
use corral_core::jute::{create_mode, err, Acl, CreateRequest, Request, Response};
use std::collections::VecDeque;

/// Requests kept in flight by the untimed bulk operations.
pub const BULK_WINDOW: usize = 1_000;
/// The deepest tree [`delete_tree`] walks; the benchmark builds two levels under its root.
const TREE_DEPTH_MAX: usize = 16;

/// A create request for a persistent node with an open ACL.
pub fn create_request(path: String, data: Vec<u8>, flags: i32) -> Request {
    Request::Create(CreateRequest {
        path,
        data,
        acl: Acl::open_unsafe(),
        flags,
    })
}

/// Sends every request with at most `window` in flight and hands each reply, in order, to
/// `on_reply`.
pub async fn pipeline_with(
    client: &Client,
    requests: impl IntoIterator<Item = Request>,
    window: usize,
    mut on_reply: impl FnMut(Reply),
) -> Result<(), ClientError> {
    assert!(window > 0, "a pipeline needs room for one request");
    let mut in_flight: VecDeque<ReplyFuture> = VecDeque::with_capacity(window);
    for request in requests {
        if in_flight.len() == window {
            let front = in_flight.pop_front().expect("the window is full");
            on_reply(wait(front).await?);
        }
        in_flight.push_back(client.send(&request));
    }
    for future in in_flight {
        on_reply(wait(future).await?);
    }
    Ok(())
}

/// Sends every request with at most `window` in flight; returns the reply codes in order.
pub async fn pipeline(
    client: &Client,
    requests: impl IntoIterator<Item = Request>,
    window: usize,
) -> Result<Vec<i32>, ClientError> {
    let mut codes = Vec::new();
    pipeline_with(client, requests, window, |reply| {
        codes.push(reply.header.err)
    })
    .await?;
    Ok(codes)
}

/// Creates each path (empty, persistent) unless it exists.
pub async fn ensure_paths(client: &Client, paths: &[String]) -> Result<(), ClientError> {
    for path in paths {
        let reply = client
            .call(&create_request(
                path.clone(),
                Vec::new(),
                create_mode::PERSISTENT,
            ))
            .await?;
        let code = reply.header.err;
        if code != err::OK && code != err::NODE_EXISTS {
            return Err(ClientError::Unexpected(format!(
                "create {path}: error {code}"
            )));
        }
    }
    Ok(())
}

/// The path of key number `index` under `parent`.
pub fn key_path(parent: &str, index: usize) -> String {
    format!("{parent}/k{index:08}")
}

/// Creates keys `0..keys` under `parent` with `value`, pipelined; existing keys are kept.
pub async fn create_keys(
    client: &Client,
    parent: &str,
    keys: usize,
    value: &[u8],
) -> Result<(), ClientError> {
    let requests = (0..keys)
        .map(|i| create_request(key_path(parent, i), value.to_vec(), create_mode::PERSISTENT));
    let codes = pipeline(client, requests, BULK_WINDOW).await?;
    if let Some(code) = codes
        .iter()
        .find(|&&c| c != err::OK && c != err::NODE_EXISTS)
    {
        return Err(ClientError::Unexpected(format!(
            "creating keys under {parent}: error {code}"
        )));
    }
    Ok(())
}

/// Deletes `paths` (leaves), pipelined; nodes already gone are fine.
pub async fn delete_paths(client: &Client, paths: Vec<String>) -> Result<(), ClientError> {
    let requests = paths
        .into_iter()
        .map(|path| Request::Delete { path, version: -1 });
    let codes = pipeline(client, requests, BULK_WINDOW).await?;
    if let Some(code) = codes.iter().find(|&&c| c != err::OK && c != err::NO_NODE) {
        return Err(ClientError::Unexpected(format!("delete: error {code}")));
    }
    Ok(())
}

/// Deletes `root` and everything under it. The walk is a loop over levels, bounded by
/// [`TREE_DEPTH_MAX`]; each level's leaves go in one pipelined batch, deepest level first.
pub async fn delete_tree(client: &Client, root: &str) -> Result<(), ClientError> {
    let mut levels: Vec<Vec<String>> = vec![vec![root.to_string()]];
    for _ in 0..TREE_DEPTH_MAX {
        let parents = levels.last().expect("levels starts non-empty");
        let requests = parents.iter().map(|p| Request::GetChildren {
            path: p.clone(),
            watch: false,
        });
        let mut next = Vec::new();
        let mut parents_iter = parents.iter();
        pipeline_with(client, requests, BULK_WINDOW, |reply| {
            let parent = parents_iter.next().expect("one reply per parent");
            if let Some(Response::GetChildren { children }) = reply.body {
                let prefix = if parent == "/" { "" } else { parent.as_str() };
                next.extend(children.into_iter().map(|c| format!("{prefix}/{c}")));
            }
        })
        .await?;
        if next.is_empty() {
            break;
        }
        levels.push(next);
    }
    while let Some(level) = levels.pop() {
        delete_paths(client, level).await?;
    }
    Ok(())
}
