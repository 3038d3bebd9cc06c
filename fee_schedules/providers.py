"""Who rendered a service, as the pricer needs it: the provider types and the rules they trigger.

The roster that maps an NPI to a type lives with the contracts (contracts/providers.py); the types
themselves belong to Medicare's payment policy (shared notes: NPP 85%, CQ/CO 85%, anesthesia).
"""

from __future__ import annotations

# Physicians (MD, DO), non-physician practitioners, CRNAs and therapists and their assistants.
PROVIDER_TYPES = ("MD", "DO", "NP", "PA", "CNS", "CRNA", "PT", "PTA", "OT", "OTA", "SLP")
# Paid 85% of the fee schedule under their own NPI (NP, PA, CNS).
NPP_TYPES = ("NP", "PA", "CNS")
# Therapy assistants: services furnished in whole or part by them are paid 85% (CQ/CO, SSA 1834(v)).
THERAPY_ASSISTANT_TYPES = ("PTA", "OTA")
