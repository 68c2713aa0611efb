"""The facial components measured, one module per job."""
