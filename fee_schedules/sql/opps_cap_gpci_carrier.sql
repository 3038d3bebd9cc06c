-- Purpose: reconcile OPPSCAP's carrier with the carrier GPCI lists the locality under.
-- Grain: one row per mpfs_opps_cap row of one (year, release); sets gpci_carrier.
-- OPPSCAP lists CA localities 17/18 (and 71-74) under 01112 as well as 01182, while GPCI has them
-- only under 01182. An exact (carrier, locality) match wins; otherwise the GPCI carrier of the same
-- jurisdiction (first three digits, e.g. 011) with that locality number; otherwise NULL.
UPDATE mpfs_opps_cap AS o
SET gpci_carrier = m.gpci_carrier
FROM (
    SELECT c.carrier, c.locality,
           coalesce(max(g.carrier) FILTER (WHERE g.carrier = c.carrier),
                    min(g.carrier) FILTER (WHERE left(g.carrier, 3) = left(c.carrier, 3))) AS gpci_carrier
    FROM (SELECT DISTINCT carrier, locality FROM mpfs_opps_cap WHERE year = $year AND release = $release) c
    LEFT JOIN mpfs_gpci g ON g.year = $year AND g.release = $release AND g.locality = c.locality
    GROUP BY c.carrier, c.locality
) m
WHERE o.year = $year AND o.release = $release AND o.carrier = m.carrier AND o.locality = m.locality;
