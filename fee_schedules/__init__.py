"""Medicare Physician Fee Schedule: read CMS's own release files, price lines to the cent."""
