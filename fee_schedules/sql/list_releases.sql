-- Purpose: what fee schedule data is imported, for `underpay fee-schedule list`.
-- Grain: one row per (year, release, file kind).
SELECT r.year,
       r.release,
       r.effective_from,
       r.effective_through,
       f.kind,
       f.file_name,
       f.row_count,
       coalesce('inherited from ' || f.inherited_from, 'shipped') AS origin,
       left(f.sha256, 12)                                          AS sha256_prefix
FROM mpfs_releases r
JOIN mpfs_release_files f USING (year, release)
ORDER BY r.year, r.release, f.kind;
