package tasklet.net;

/**
 * One decoded frame: its type and its payload. Produced by {@link FrameDecoder}; the
 * payload array belongs to whoever receives the frame.
 *
 * @param type    the frame type, see {@link FrameType}
 * @param payload the bytes after the type byte (possibly empty, never null)
 */
public record Frame(int type, byte[] payload) {
  @Override
  public String toString() {
    return "Frame[" + FrameType.name(type) + ", " + payload.length + " bytes]";
  }
}
