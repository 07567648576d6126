/**
 * The node protocol: between the kernel (it implements
 * {@link tasklet.kernel.Distribution}) and the transport (it is a
 * {@link tasklet.net.Endpoint}), one noun a class. {@link tasklet.dist.Dist}
 * is one node's protocol; {@link tasklet.dist.Codec} is how it sees values
 * (the Clojure layer fills it with Nippy), and a resolver {@code IFn} answers
 * a peer's spawn. Every pid of another distributed node takes this path,
 * whether that node lives in this JVM or not:
 *
 * <pre>
 *   (! pid msg) on node a, pid of node b
 *     Node.send -> a.remoteFor(pid) -> Outbound.send -> Codec.encode
 *       -> Connection.send [len|0x10|payload]           (tasklet.net, TCP)
 *   on node b
 *     Inbox -> Inbound.frame -> Codec.decode -> b's own pid? -> mailbox
 * </pre>
 *
 * Tested without nodes on Netty's EmbeddedChannel (tasklet.dist.protocol-test).
 */
package tasklet.dist;
