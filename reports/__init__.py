"""Reports: the monthly review and the negotiation pack as self-contained HTML, plus exports."""
