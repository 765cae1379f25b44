-- Per-term document counts of the full-text index, read by queries to skip
-- terms so common that they cost much and rank little.
CREATE VIRTUAL TABLE episode_fts_terms USING fts5vocab (episode_fts, 'row');
