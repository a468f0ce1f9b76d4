//! Credentials (database URL, admin token) from env, files or Scaleway Secret Manager.
