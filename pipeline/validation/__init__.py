"""Data validation with TFDV on Beam: statistics, curated schema, anomalies, drift, skew, and the gate."""
