-- Purpose: the carrier+locality of each ZIP code the claim lines give (fee_schedules.claims), so that
-- lines of one locality share one step-1 key whether they gave a ZIP or the locality. Only a ZIP the
-- ZIP5 file places in one locality is mapped (no plus-four flag): any other ZIP stays in the key as
-- given and price_lines resolves it (ZIP9, its notes, its not-priced reasons) exactly as for a line.
-- Grain: one row per distinct (zip, year, key_date) of _pc_zips that the ZIP5 file places.
-- Inputs: _pc_zips (zip as given, year, key_date from claim_key_dates.sql), mpfs_releases, mpfs_zip5.
WITH asked AS (
    SELECT zip, year, key_date,
           coalesce(year, year(key_date)) AS eff_year,
           left(regexp_replace(zip, '[^0-9]', '', 'g'), 5) AS zip5
    FROM _pc_zips
),
rel AS (               -- the release in force on key_date (as price_lines chooses it)
    SELECT a.zip, a.year, a.key_date, a.eff_year, a.zip5,
           coalesce(max(r.release) FILTER (WHERE r.effective_from <= a.key_date),
                    CASE WHEN a.key_date IS NULL THEN max(r.release) END,
                    min(r.release)) AS release
    FROM asked a LEFT JOIN mpfs_releases r ON r.year = a.eff_year
    GROUP BY a.zip, a.year, a.key_date, a.eff_year, a.zip5
)
SELECT rel.zip, rel.year, rel.key_date, z.carrier || z.locality AS key_locality
FROM rel
JOIN mpfs_zip5 z
  ON z.year = rel.eff_year AND z.release = rel.release AND z.zip5 = rel.zip5 AND NOT z.plus_four_flag
WHERE length(rel.zip5) = 5
