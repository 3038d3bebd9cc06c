"""The Parquet lake: the comparison's inputs as hive-partitioned Parquet files for another engine
(pipelines.spark), and its variances loaded back (layout: pipelines.lake.layout)."""
