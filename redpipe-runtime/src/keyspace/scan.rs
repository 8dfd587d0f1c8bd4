//! Scanning: one round trip per page, as an async iterator.

use std::collections::VecDeque;

use crate::deferred::Deferred;
use crate::error::Error;

/// Escapes the glob metacharacters of a `MATCH` pattern (`*`, `?`, `[`, `]`, `\`).
pub(crate) fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One scan page: the cursor to continue from (0 when done) and the items found.
pub type Page<T> = (u64, Vec<T>);

pub(crate) type Source<T> = Box<dyn FnMut(u64) -> Deferred<Page<T>> + Send>;

/// An async iterator over scan pages: each [`next_page`](Scan::next_page) is one round trip
/// (a standalone execute on the current registry). Several sources (the shards of a
/// [`HashedString`](super::HashedString)) are scanned one after the other.
pub struct Scan<T> {
    sources: VecDeque<Source<T>>,
    cursor: u64,
}

impl<T> std::fmt::Debug for Scan<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("sources_left", &self.sources.len())
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl<T: Clone + Send + Sync + 'static> Scan<T> {
    pub(crate) fn new(source: impl FnMut(u64) -> Deferred<Page<T>> + Send + 'static) -> Self {
        Self::from_sources(vec![Box::new(source) as Source<T>])
    }

    pub(crate) fn from_sources(sources: Vec<Source<T>>) -> Self {
        Scan {
            sources: sources.into(),
            cursor: 0,
        }
    }

    /// The next page (possibly empty, as Redis may return empty pages), or `None` when the
    /// scan is complete. After an error the scan ends.
    pub async fn next_page(&mut self) -> Option<Result<Vec<T>, Error>> {
        let source = self.sources.front_mut()?;
        match source(self.cursor).await {
            Ok((next, items)) => {
                self.cursor = next;
                if next == 0 {
                    self.sources.pop_front();
                }
                Some(Ok(items))
            }
            Err(error) => {
                self.sources.clear();
                Some(Err(error))
            }
        }
    }

    /// Every item of every remaining page.
    pub async fn collect(mut self) -> Result<Vec<T>, Error> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await {
            all.extend(page?);
        }
        Ok(all)
    }
}
