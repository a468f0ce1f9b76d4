-- Configuration store, initial schema. Runs unchanged on PostgreSQL and SQLite.
--
-- Every entity table keeps the full Admin API JSON in `doc`; the other columns exist for
-- keys, uniqueness, foreign keys, ordering and tag filtering. `tags` is `,t1,t2,` (Kong tags
-- cannot contain commas) or NULL. Statements are idempotent so that two processes racing on
-- a fresh SQLite file (which sqlx cannot lock) both end up with the same schema.

CREATE TABLE IF NOT EXISTS config_version (
    id      INTEGER PRIMARY KEY,
    version BIGINT  NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS services (
    id         TEXT   PRIMARY KEY,
    created_at BIGINT NOT NULL,
    name       TEXT   UNIQUE,
    tags       TEXT,
    doc        TEXT   NOT NULL
);

CREATE TABLE IF NOT EXISTS routes (
    id         TEXT   PRIMARY KEY,
    created_at BIGINT NOT NULL,
    name       TEXT   UNIQUE,
    service_id TEXT   REFERENCES services (id),
    tags       TEXT,
    doc        TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS routes_service_id_idx ON routes (service_id);

CREATE TABLE IF NOT EXISTS consumers (
    id         TEXT   PRIMARY KEY,
    created_at BIGINT NOT NULL,
    username   TEXT   UNIQUE,
    custom_id  TEXT   UNIQUE,
    tags       TEXT,
    doc        TEXT   NOT NULL
);

CREATE TABLE IF NOT EXISTS plugins (
    id            TEXT   PRIMARY KEY,
    created_at    BIGINT NOT NULL,
    name          TEXT   NOT NULL,
    instance_name TEXT   UNIQUE,
    -- name|route_id|service_id|consumer_id, empty for NULL: one instance per scope.
    scope_key     TEXT   NOT NULL UNIQUE,
    service_id    TEXT   REFERENCES services (id) ON DELETE CASCADE,
    route_id      TEXT   REFERENCES routes (id) ON DELETE CASCADE,
    consumer_id   TEXT   REFERENCES consumers (id) ON DELETE CASCADE,
    tags          TEXT,
    doc           TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS plugins_service_id_idx ON plugins (service_id);
CREATE INDEX IF NOT EXISTS plugins_route_id_idx ON plugins (route_id);
CREATE INDEX IF NOT EXISTS plugins_consumer_id_idx ON plugins (consumer_id);
CREATE INDEX IF NOT EXISTS plugins_name_idx ON plugins (name);

CREATE TABLE IF NOT EXISTS jwt_secrets (
    id          TEXT   PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    key         TEXT   NOT NULL UNIQUE,
    consumer_id TEXT   NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
    tags        TEXT,
    doc         TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS jwt_secrets_consumer_id_idx ON jwt_secrets (consumer_id);
