//! Registries: maps from connection names to connections, process-wide or scoped to a
//! task.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

use crate::connection::{Connection, DEFAULT_CONNECTION};
use crate::error::Error;

tokio::task_local! {
    static SCOPED: Registry;
}

/// Maps connection names to [`Connection`]s.
///
/// There is one process-wide registry ([`Registry::global`]), used by the free functions
/// of this crate, so a function needs no connection argument; and any number of explicit
/// ones, so tests and multi-tenant programs can run side by side against different
/// servers. [`Registry::scope`] makes a registry the current one for a task.
#[derive(Clone, Default)]
pub struct Registry {
    /// A sorted list, not a hash map: every execute looks its names up, and finding one
    /// of a few names costs a string comparison or two where a hash map hashes it first.
    names: Arc<RwLock<Names>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names.read();
        f.debug_map()
            .entries(names.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl Registry {
    /// How many handles share this registry (for tests of who holds one).
    #[cfg(test)]
    pub(crate) fn handle_count(&self) -> usize {
        Arc::strong_count(&self.names)
    }

    /// Whether this is a handle of `other`.
    #[cfg(test)]
    pub(crate) fn is(&self, other: &Registry) -> bool {
        Arc::ptr_eq(&self.names, &other.names)
    }

    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide registry.
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::new)
    }

    /// The registry of the current [`scope`](Registry::scope), or the global one.
    pub fn current() -> Registry {
        Self::scoped().unwrap_or_else(|| Registry::global().clone())
    }

    /// The registry of the current scope, if any (a count of it).
    pub(crate) fn scoped() -> Option<Registry> {
        SCOPED.try_with(Registry::clone).ok()
    }

    /// Runs `future` with this registry as the current one: standalone pipelined calls and
    /// the free functions (`pipeline()`, `connect()`...) inside it use this registry.
    ///
    /// The scope is task-local: a task started with `tokio::spawn` inside it does **not**
    /// inherit it, and uses the process-wide registry. Start tasks with
    /// [`Registry::spawn`] (or [`spawn`](crate::spawn), for the current registry) to keep
    /// them in the scope.
    pub async fn scope<F: Future>(&self, future: F) -> F::Output {
        SCOPED.scope(self.clone(), future).await
    }

    /// Runs `f` on this thread with this registry as the current one: the blocking twin of
    /// [`scope`](Registry::scope), for code without an async runtime (standalone calls
    /// awaited with [`Deferred::wait`](crate::Deferred::wait), say).
    pub fn scope_blocking<R>(&self, f: impl FnOnce() -> R) -> R {
        SCOPED.sync_scope(self.clone(), f)
    }

    /// Spawns `future` on the current tokio runtime, running within this registry's scope
    /// (see [`scope`](Registry::scope)). Outside a tokio runtime it is an
    /// [`Error::InvalidOperation`] (where `tokio::spawn` would panic).
    pub fn spawn<F>(&self, future: F) -> Result<tokio::task::JoinHandle<F::Output>, Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::invalid_operation("Registry::spawn was called outside a tokio runtime")
        })?;
        let registry = self.clone();
        Ok(runtime.spawn(async move { registry.scope(future).await }))
    }

    /// Binds the default connection.
    pub fn connect(&self, connection: Connection) -> Result<(), Error> {
        self.connect_named(DEFAULT_CONNECTION, connection)
    }

    /// Binds `name`. Binding an equal connection again is fine (as in Python redpipe): a
    /// clone of the bound one, or one opened ([`Connection::open`],
    /// [`Connection::from_client`]) with the same address, db, user, password and options;
    /// the bound connection stays and the new one is dropped. Binding a different one to a
    /// bound name is [`Error::AlreadyConnected`] (use [`replace`](Registry::replace)).
    pub fn connect_named(&self, name: &str, connection: Connection) -> Result<(), Error> {
        let mut names = self.names.write();
        match names.get(name) {
            Some(bound) if bound.same_as(&connection) => Ok(()),
            Some(_) => Err(Error::AlreadyConnected {
                connection: Arc::from(name),
            }),
            None => {
                names.insert(name, connection);
                Ok(())
            }
        }
    }

    /// Binds `name`, replacing whatever it was bound to; returns the old connection.
    pub fn replace(&self, name: &str, connection: Connection) -> Option<Connection> {
        let mut names = self.names.write();
        names.insert(name, connection)
    }

    /// Unbinds `name`; returns whether it was bound. Unbinding an unknown name is a no-op.
    pub fn disconnect(&self, name: &str) -> bool {
        let mut names = self.names.write();
        names.remove(name)
    }

    /// Unbinds every name.
    pub fn reset(&self) {
        self.names.write().0.clear();
    }

    /// The connection bound to `name`.
    pub fn get(&self, name: &str) -> Option<Connection> {
        self.get_shared(name)
            .map(|connection| Connection::clone(&connection))
    }

    /// The connection bound to `name`, shared: what every execute looks up, for one
    /// reference count where a clone of the connection takes one per part.
    pub(crate) fn get_shared(&self, name: &str) -> Option<Arc<Connection>> {
        let names = self.names.read();
        names.get(name).cloned()
    }
}

/// Connection names and their connections, sorted by name.
#[derive(Default)]
struct Names(Vec<(Arc<str>, Arc<Connection>)>);

impl Names {
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(bound, _)| (**bound).cmp(name))
    }

    fn get(&self, name: &str) -> Option<&Arc<Connection>> {
        self.find(name).ok().map(|at| &self.0[at].1)
    }

    /// Binds `name`, returning what it was bound to before.
    fn insert(&mut self, name: &str, connection: Connection) -> Option<Connection> {
        let connection = Arc::new(connection);
        match self.find(name) {
            Ok(at) => {
                let old = std::mem::replace(&mut self.0[at].1, connection);
                // An execute running meanwhile may still hold it: then a clone is returned.
                Some(Arc::try_unwrap(old).unwrap_or_else(|shared| Connection::clone(&shared)))
            }
            Err(at) => {
                self.0.insert(at, (Arc::from(name), connection));
                None
            }
        }
    }

    fn remove(&mut self, name: &str) -> bool {
        self.find(name).map(|at| self.0.remove(at)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Unused;

    #[test]
    fn names_are_found_replaced_and_removed_in_any_order() {
        let registry = Registry::new();
        let names = ["m", "b", "default", "z", "a", "shard-10", "shard-2"];
        let connections: Vec<Connection> = names.iter().map(|_| Connection::new(Unused)).collect();
        for (name, connection) in names.iter().zip(&connections) {
            registry
                .connect_named(name, connection.clone())
                .expect("a new name");
        }
        for (name, connection) in names.iter().zip(&connections) {
            let found = registry.get(name).expect("a bound name");
            assert!(Arc::ptr_eq(found.backend(), connection.backend()), "{name}");
        }
        assert!(registry.get("c").is_none() && registry.get("").is_none());
        let replacement = Connection::new(Unused);
        let before = registry
            .replace("b", replacement.clone())
            .expect("b was bound");
        assert!(Arc::ptr_eq(before.backend(), connections[1].backend()));
        let now = registry.get("b").expect("b");
        assert!(Arc::ptr_eq(now.backend(), replacement.backend()));
        assert!(registry.disconnect("m") && !registry.disconnect("m"));
        assert!(registry.get("m").is_none() && registry.get("z").is_some());
        let shown = format!("{registry:?}");
        let a = shown.find("\"a\"").expect("a shown");
        let z = shown.find("\"z\"").expect("z shown");
        assert!(a < z, "listed by name: {shown}");
    }
}
