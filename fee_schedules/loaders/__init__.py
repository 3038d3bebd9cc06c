"""One loader per CMS file kind: SourceFile -> validated, typed polars frame."""

from __future__ import annotations

from fee_schedules.loaders import anes, anes_base, gpci, locco, oppscap, rvu, zipcodes

LOADERS = {
    "rvu": rvu.load,
    "gpci": gpci.load,
    "locco": locco.load,
    "anes": anes.load,
    "oppscap": oppscap.load,
    "zip5": zipcodes.load_zip5,
    "zip9": zipcodes.load_zip9,
    "anes_base": anes_base.load,
}
