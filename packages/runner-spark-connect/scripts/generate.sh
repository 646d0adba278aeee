#!/usr/bin/env bash
# Regenerates src/generated from the .proto files shipped inside Spark's own Maven artifact
# (spark-connect_2.13), pinned to the server version in maven/pom.xml or $SPARK_VERSION.
# Nothing under src/generated or proto/ is tracked or edited by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${SPARK_VERSION:-$(sed -n 's:.*<spark.version>\(.*\)</spark.version>.*:\1:p' maven/pom.xml)}"
cache="${SPARK_ETL_CACHE:-$HOME/.cache/spark-etl}"
jar="$cache/spark-$version/proto/spark-connect_2.13-$version.jar"
if [ ! -f "$jar" ]; then
  mkdir -p "$(dirname "$jar")"
  mvn -B -q dependency:copy -Dartifact="org.apache.spark:spark-connect_2.13:$version" \
    -DoutputDirectory="$(dirname "$jar")" -Dmdep.overWriteReleases=true
fi
rm -rf proto src/generated
mkdir -p proto
# The JDK's jar tool, since Java is already a prerequisite (unzip may be absent).
entries=$(jar tf "$jar" | grep -E '^(spark/connect/[a-z_]+\.proto|google/rpc/(status|error_details)\.proto)$')
(cd proto && jar xf "$jar" $entries)
# example_plugins.proto is the server's own test fixture, not protocol.
rm -f proto/spark/connect/example_plugins.proto
PATH="$PWD/../../node_modules/.bin:$PATH" buf generate
echo "spark.connect stubs for Spark $version generated in src/generated"
