-- Purpose: one pricing date per (year, service date) of the claim lines: the first day of the MPFS
-- release in force on that date (fee_schedules.claims). Lines whose dates fall in the same release
-- then share one step-1 key, so price_lines prices each (code, row, place) once per release, not
-- once per day. A date before the year's first imported release, or a year with none, keeps its own
-- date (price_lines then says which release it used, or that none is imported).
-- Grain: one row per distinct (year, service_date) of _pc_dates.
-- Inputs: _pc_dates (year, service_date), mpfs_releases.
WITH asked AS (
    SELECT year, service_date,
           coalesce(year, year(service_date)) AS eff_year,
           CASE WHEN year IS NULL THEN service_date
                WHEN service_date IS NOT NULL
                  THEN make_date(year, month(service_date), 1) + (day(service_date) - 1) * INTERVAL 1 DAY
           END AS ref_date
    FROM _pc_dates
)
SELECT a.year, a.service_date,
       coalesce(CAST(max(r.effective_from) FILTER (WHERE r.effective_from <= a.ref_date) AS DATE), a.service_date)
         AS key_date
FROM asked a
LEFT JOIN mpfs_releases r ON r.year = a.eff_year
GROUP BY a.year, a.service_date, a.ref_date
