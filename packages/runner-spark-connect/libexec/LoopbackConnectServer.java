// Spark 3.5's Connect server listens on every interface: it has no setting for the address
// (spark.connect.grpc.binding.address came in 4.0). This starts the same service the same way
// SparkConnectServer does (session, gRPC service with its interceptors, listener and UI), but
// bound to 127.0.0.1. Run with Java's source launcher, the server's jars on the classpath:
//   java -cp 'jars/*' -Dspark.connect.grpc.binding.port=N LoopbackConnectServer.java
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import org.apache.spark.SparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.connect.service.SparkConnectInterceptorRegistry$;
import org.apache.spark.sql.connect.service.SparkConnectService;
import org.apache.spark.sql.connect.service.SparkConnectService$;
import org.sparkproject.connect.grpc.Server;
import org.sparkproject.connect.grpc.netty.NettyServerBuilder;

public final class LoopbackConnectServer {
  public static void main(String[] args) throws Exception {
    SparkSession session = SparkSession.builder().getOrCreate();
    try {
      int port = Integer.parseInt(session.sparkContext().getConf().get("spark.connect.grpc.binding.port", "15002"));
      int maxInbound = (int) session.sparkContext().getConf().getSizeAsBytes("spark.connect.grpc.maxInboundMessageSize", "128m");
      NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
          .maxInboundMessageSize(maxInbound);
      builder.addService(new SparkConnectService(false));
      SparkConnectInterceptorRegistry$.MODULE$.chainInterceptors(builder);
      Server server = builder.build().start();
      // Registered where SparkConnectService keeps its server, so its stop() ends this one too.
      SparkConnectService$.MODULE$.server_$eq(server);
      // The listener and UI tab of the operations; private in Spark, called as start() does.
      Method listenerAndUi = SparkConnectService$.class.getDeclaredMethod("createListenerAndUI", SparkContext.class);
      listenerAndUi.setAccessible(true);
      listenerAndUi.invoke(SparkConnectService$.MODULE$, session.sparkContext());
      System.err.println("Spark Connect server started at: 127.0.0.1:" + server.getPort());
      server.awaitTermination();
    } finally {
      session.stop();
    }
  }
}
