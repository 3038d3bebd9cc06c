"""Reports: the monthly review and the negotiation pack as self-contained HTML, plus exports.

reports.monthly (render_monthly, report_month), reports.negotiate (render_negotiation,
negotiation_pack), reports.exports (export_monthly, write_tables), reports.proposal
(load_proposal). Queries in reports/sql, templates in reports/templates; see docs/reports.md.
"""
