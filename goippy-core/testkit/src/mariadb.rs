//! A throwaway MariaDB server (see the storage issue).
