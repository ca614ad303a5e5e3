//! Storage behind one interface, with a SQLite and a MySQL/MariaDB backend (see the storage issue).
