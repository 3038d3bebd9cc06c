-- Arithmetic helpers for the report queries (temporary macros, created on the report's connection
-- before each query by reports.queries). Grain: none (scalar macros).
-- DuckDB turns DECIMAL / DECIMAL (and avg of a DECIMAL) into DOUBLE, whose rounding gets half-cents
-- wrong ($2.05 over 2 units gives $1.02); money per unit is divided here in integers instead.
-- amount / qty rounded half-up to the cent: amount has 2 places, qty up to 3 (units, or a count);
-- HUGEINT leaves room for any stored amount over a thousandth of a unit. NULL when qty is 0 or NULL.
CREATE OR REPLACE TEMP MACRO rpt_money_per(amount, qty) AS
    CASE WHEN qty IS NULL OR qty = 0 OR amount IS NULL THEN NULL
         ELSE CAST(sign(amount) * sign(qty)
                   * ((2 * abs(CAST(CAST(amount AS DECIMAL(38,2)) * 100 AS HUGEINT)) * 1000
                       + abs(CAST(CAST(qty AS DECIMAL(38,3)) * 1000 AS HUGEINT)))
                      // (2 * abs(CAST(CAST(qty AS DECIMAL(38,3)) * 1000 AS HUGEINT)))) AS DECIMAL(38,0))
              * 0.01 END;
-- Dollars at stake on a flagged line (the worklist's order): the underpaid variance; for a denied
-- line expected - actual, or its billed charges where no expected amount could be computed.
CREATE OR REPLACE TEMP MACRO rpt_at_stake(category, variance, billed) AS
    CASE WHEN category = 'underpaid' THEN variance ELSE coalesce(variance, billed) END;
