package tasklet.net;

/**
 * The peer announced this node's own name: it is this node itself, or two
 * nodes share a name. Connect futures fail with it; the fix is a unique
 * name per node, nothing about cookies or TLS. Immutable: any thread.
 */
public final class NameClashException extends HandshakeException {
  private static final long serialVersionUID = 1L;
  private final String name;

  NameClashException(String name, Object address) {
    super("the node at " + address + " is called " + LogText.of(name)
        + ", like this node: it is this node itself, or two nodes share a name");
    this.name = name;
  }

  /** The name both ends have. Any thread. */
  public String name() {
    return name;
  }
}
