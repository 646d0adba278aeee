"""The same JDBC work through Spark's own data source, driven by the official Python client
(pyspark-client 4.2.0) on the same Spark Connect server: the figure the runner is compared with.

Usage: pyspark_jdbc.py <read|write> <sc://host:port> <jdbc url> <table> <rows>
The database user and password come from PG_USER and PG_PASSWORD (never the command line).
Prints one JSON line: {"seconds": ...}.
"""
import json
import os
import sys
import time

from pyspark.sql import SparkSession

mode, remote, url, table, rows = sys.argv[1:6]
spark = SparkSession.builder.remote(remote).getOrCreate()
# The session made on the server before the clock starts, as the runner's is (its layer asks
# the server's version when it opens).
spark.version
options = {"url": url, "user": os.environ["PG_USER"], "password": os.environ["PG_PASSWORD"]}
started = time.perf_counter()
if mode == "read":
    df = spark.read.format("jdbc").options(dbtable=table, fetchsize="10000", **options).load()
    n = df.cache().count()
    assert n == int(rows), f"{n} rows read, expected {rows}"
else:
    source = spark.sql(
        f"SELECT /*+ REPARTITION(1) */ id, md5(CAST(id AS STRING)) AS name,"
        f" CAST(id % 1000 AS DECIMAL(10,2)) AS amount FROM range(1, {int(rows) + 1})"
    )
    (source.write.format("jdbc").mode("overwrite")
     .options(dbtable=table, truncate="true", batchsize="10000", **options).save())
print(json.dumps({"seconds": time.perf_counter() - started}))
