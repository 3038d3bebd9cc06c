"""Code meanings (CSV data files) used as report labels."""
