// HDFS for the test harness: Hadoop's MiniDFSCluster (a NameNode and a DataNode in this JVM)
// on 127.0.0.1, its storage under the given folder, kept across restarts. Run as a single-file
// source program (`java -cp <jars>/* MiniHdfs.java <dir> <port>`): nothing to build.
// Prints "READY <uri>" once the NameNode and the DataNode are up; runs until SIGTERM (which the
// tether of tools/infra sends when its parent dies), then shuts both nodes down.
import java.io.File;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;

public class MiniHdfs {
  public static void main(String[] args) throws Exception {
    File base = new File(args[0]);
    int port = Integer.parseInt(args[1]);
    Configuration conf = new Configuration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.getAbsolutePath());
    // Loopback only: the NameNode's RPC and HTTP, and the DataNode's ports.
    conf.set("dfs.namenode.rpc-bind-host", "127.0.0.1");
    conf.set("dfs.namenode.http-address", "127.0.0.1:0");
    conf.set("dfs.datanode.address", "127.0.0.1:0");
    conf.set("dfs.datanode.http.address", "127.0.0.1:0");
    conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    // Any client user may write: the tests and Spark run as whoever started them.
    conf.setBoolean("dfs.permissions.enabled", false);
    boolean formatted = new File(base, "name1").isDirectory();
    MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf)
        .nameNodePort(port)
        .numDataNodes(1)
        .format(!formatted)
        .manageNameDfsDirs(true)
        .manageDataDfsDirs(true)
        .build();
    cluster.waitActive();
    Runtime.getRuntime().addShutdownHook(new Thread(cluster::shutdown));
    System.out.println("READY hdfs://127.0.0.1:" + cluster.getNameNodePort());
    System.out.flush();
    Thread.currentThread().join();
  }
}
