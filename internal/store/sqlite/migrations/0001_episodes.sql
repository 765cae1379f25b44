-- Episodes, steps, tags and merged patterns. Timestamps are Unix
-- nanoseconds. seq is the rowid and the key of the in-memory BM25 index.
CREATE TABLE episodes (
	seq              INTEGER PRIMARY KEY,
	id               TEXT NOT NULL UNIQUE,
	task_description TEXT NOT NULL,
	domain           TEXT NOT NULL DEFAULT '',
	task_type        TEXT NOT NULL DEFAULT '',
	language         TEXT NOT NULL DEFAULT '',
	framework        TEXT NOT NULL DEFAULT '',
	complexity       TEXT NOT NULL DEFAULT '',
	tags             TEXT NOT NULL DEFAULT '[]',
	status           TEXT NOT NULL,
	step_count       INTEGER NOT NULL DEFAULT 0,
	outcome          TEXT,
	reward           TEXT,
	reward_total     REAL,
	reflection       TEXT,
	embedding        BLOB,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	completed_at     INTEGER
);
CREATE INDEX episodes_created_at ON episodes (created_at);
CREATE INDEX episodes_domain_created_at ON episodes (domain, created_at);

CREATE TABLE steps (
	episode_id TEXT NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	tool       TEXT NOT NULL,
	action     TEXT NOT NULL,
	parameters TEXT NOT NULL,
	status     TEXT NOT NULL,
	output     TEXT NOT NULL,
	error      TEXT NOT NULL,
	latency_ms INTEGER NOT NULL,
	tokens     INTEGER NOT NULL,
	at         INTEGER NOT NULL,
	PRIMARY KEY (episode_id, seq)
) WITHOUT ROWID;

CREATE TABLE episode_tags (
	tag        TEXT NOT NULL,
	episode_id TEXT NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
	PRIMARY KEY (tag, episode_id)
) WITHOUT ROWID;
CREATE INDEX episode_tags_episode ON episode_tags (episode_id);

CREATE TABLE patterns (
	kind        TEXT NOT NULL,
	domain      TEXT NOT NULL,
	key         TEXT NOT NULL,
	description TEXT NOT NULL,
	occurrences INTEGER NOT NULL,
	successes   INTEGER NOT NULL,
	last_seen   INTEGER NOT NULL,
	PRIMARY KEY (kind, domain, key)
);

CREATE TABLE pattern_evidence (
	kind       TEXT NOT NULL,
	domain     TEXT NOT NULL,
	key        TEXT NOT NULL,
	episode_id TEXT NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
	at         INTEGER NOT NULL,
	PRIMARY KEY (kind, domain, key, episode_id)
);
CREATE INDEX pattern_evidence_episode ON pattern_evidence (episode_id);
