//! The crawl as a small pool: user-data, the metadata tree and (AWS) the
//! identity document are fetched by a few workers sharing one session, so
//! round trips overlap. Each URL is fetched once; results are assembled
//! afterwards in listing order, so the outcome is the sequential crawl's.
//! Of the identity tree only `document` is read (upstream also reads its
//! listing, `pkcs7`, `signature` and `rsa2048`, and keeps only `document`).

use super::crawl::{combine_url, decode_leaf, join_leaves, parse_listing, Session};
use crate::url::UrlError;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Requests in flight at once.
pub(super) const WORKERS: usize = 4;

/// The independent parts of a crawl: a failure in one stops only its own
/// remaining fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    UserData,
    MetaData,
    Identity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A listing whose entries become further jobs.
    Dir,
    Leaf,
}

#[derive(Debug)]
struct Job {
    part: Part,
    kind: Kind,
    url: String,
}

#[derive(Default)]
struct Board {
    jobs: VecDeque<Job>,
    busy: usize,
    /// URLs queued or already known: nothing is fetched twice.
    seen: HashSet<String>,
    bodies: HashMap<String, Vec<u8>>,
    /// The first failure of each part.
    failed: HashMap<Part, UrlError>,
}

impl Board {
    fn queue(&mut self, part: Part, kind: Kind, url: String, front: bool) {
        if !self.seen.insert(url.clone()) {
            return;
        }
        let job = Job { part, kind, url };
        if front {
            self.jobs.push_front(job);
        } else {
            self.jobs.push_back(job);
        }
    }

    fn next(&mut self) -> Option<Job> {
        while let Some(job) = self.jobs.pop_front() {
            if !self.failed.contains_key(&job.part) {
                return Some(job);
            }
        }
        None
    }
}

/// What a crawl read.
pub(super) struct Crawled {
    /// A 404 means the instance has no user-data.
    pub(super) user_data: Result<Vec<u8>, UrlError>,
    pub(super) meta_data: Result<Map<String, Value>, UrlError>,
    /// The identity document, when asked for (a 404 means none).
    pub(super) identity: Option<Result<Vec<u8>, UrlError>>,
}

/// The URLs a crawl under `root` (`BASE/VERSION`) starts from.
pub(super) fn user_data_url(root: &str) -> String {
    format!("{root}/user-data")
}

pub(super) fn meta_data_url(root: &str) -> String {
    format!("{root}/meta-data/")
}

pub(super) fn identity_url(root: &str) -> String {
    format!("{root}/dynamic/instance-identity/document")
}

/// Fetch everything under `root`; `known` are bodies already read (the
/// version probe's `meta-data/instance-id`), used instead of a request.
pub(super) fn crawl(
    session: &Session,
    root: &str,
    identity: bool,
    known: Option<(String, Vec<u8>)>,
) -> Crawled {
    let mut board = Board::default();
    if let Some((url, body)) = known {
        board.seen.insert(url.clone());
        board.bodies.insert(url, body);
    }
    board.queue(Part::MetaData, Kind::Dir, meta_data_url(root), false);
    board.queue(Part::UserData, Kind::Leaf, user_data_url(root), false);
    if identity {
        board.queue(Part::Identity, Kind::Leaf, identity_url(root), false);
    }
    let pool = Pool {
        session,
        board: Mutex::new(board),
        wake: Condvar::new(),
    };
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..WORKERS).map(|_| s.spawn(|| pool.work())).collect();
        pool.work();
        for h in helpers {
            // A worker that died leaves its job unfinished; assembly reports it.
            let _ = h.join();
        }
    });
    let board = pool.board.into_inner().unwrap_or_else(|e| e.into_inner());
    let leaf = |part: Part, url: &str| match board.failed.get(&part) {
        Some(e) => Err(e.clone()),
        None => fetched(&board, url).cloned(),
    };
    let user_data = leaf(Part::UserData, &user_data_url(root));
    let identity = identity.then(|| leaf(Part::Identity, &identity_url(root)));
    let meta_data = assemble(&board, Part::MetaData, &meta_data_url(root));
    Crawled {
        user_data,
        meta_data,
        identity,
    }
}

struct Pool<'s, 'c> {
    session: &'s Session<'c>,
    board: Mutex<Board>,
    wake: Condvar,
}

impl Pool<'_, '_> {
    fn lock(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn work(&self) {
        loop {
            let job = {
                let mut board = self.lock();
                loop {
                    if let Some(job) = board.next() {
                        board.busy += 1;
                        break Some(job);
                    }
                    if board.busy == 0 {
                        break None;
                    }
                    board = self.wake.wait(board).unwrap_or_else(|e| e.into_inner());
                }
            };
            let Some(job) = job else {
                self.wake.notify_all();
                return;
            };
            // A missing user-data or identity document is an answer, not a fault.
            let stop_on_404 = job.part != Part::MetaData;
            let result = self.session.get(&job.url, stop_on_404);
            let mut board = self.lock();
            board.busy -= 1;
            match result {
                Ok(body) => {
                    if job.kind == Kind::Dir {
                        let (leaves, children) = parse_listing(&String::from_utf8_lossy(&body));
                        // Newest work first, listings before leaves: the
                        // deepest directories (the crawl's critical path)
                        // start at once, shallow leaves fill idle workers.
                        for (_, resource) in leaves.iter().rev() {
                            let url = combine_url(&job.url, resource);
                            board.queue(job.part, Kind::Leaf, url, true);
                        }
                        for c in children.iter().rev() {
                            let url = format!("{}/", combine_url(&job.url, c));
                            board.queue(job.part, Kind::Dir, url, true);
                        }
                    }
                    board.bodies.insert(job.url, body);
                }
                Err(e) => {
                    board.failed.entry(job.part).or_insert(e);
                }
            }
            drop(board);
            self.wake.notify_all();
        }
    }
}

fn fetched<'b>(board: &'b Board, url: &str) -> Result<&'b Vec<u8>, UrlError> {
    board.bodies.get(url).ok_or_else(|| UrlError::Transport {
        url: url.to_string(),
        message: "metadata fetch did not complete".into(),
    })
}

fn assemble(board: &Board, part: Part, url: &str) -> Result<Map<String, Value>, UrlError> {
    if let Some(e) = board.failed.get(&part) {
        return Err(e.clone());
    }
    materialize(board, url)
}

/// Upstream `MetadataMaterializer._materialize`: directories first, then
/// leaves, a leaf named like a directory dropped with a warning.
fn materialize(board: &Board, url: &str) -> Result<Map<String, Value>, UrlError> {
    let listing = fetched(board, url)?;
    let (leaves, children) = parse_listing(&String::from_utf8_lossy(listing));
    let mut joined = Map::new();
    for c in children {
        let child_url = format!("{}/", combine_url(url, &c));
        joined.insert(c, Value::Object(materialize(board, &child_url)?));
    }
    let mut values = Vec::with_capacity(leaves.len());
    for (field, resource) in &leaves {
        let body = fetched(board, &combine_url(url, resource))?;
        values.push((field.clone(), decode_leaf(field, body)));
    }
    join_leaves(&mut joined, values, url);
    Ok(joined)
}
