package tasklet.dist;

import java.io.DataInput;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * A peer's payload being read: a {@link DataInput} and an {@link InputStream}
 * over one byte array, unsynchronised, that can peek ahead and say how many
 * bytes are left, so the codec reads its fast-path terms from it directly and
 * bounds every count by what is left, and hands the same object to Nippy (and
 * Nippy to an {@code ObjectInputStream}) for everything else.
 *
 * <p>Hostile input: every read checks the bound and throws
 * {@link EOFException} past the end; nothing here allocates more than the
 * bytes left. One thread at a time (the decoding one).
 */
public final class PayloadInput extends InputStream implements DataInput {
  private final byte[] buf;
  private final int end;
  private int pos;
  private boolean guarded;  // this payload installed the thaw guards (the codec removes them)

  /** Reads {@code buf} from its start. */
  public PayloadInput(byte[] buf) {
    this.buf = buf;
    this.end = buf.length;
  }

  /** Records that this payload's decode installed the thaw guards on its thread. */
  public void markGuarded() { guarded = true; }

  /**
   * Whether it did: only then has the decode thread-local state to remove, so a payload of
   * fast-path terms only touches no ThreadLocal (a lookup of one never set on the event
   * loop missed its slot and probed on, 7% of a W6 receiving loop's samples, JFR).
   */
  public boolean guarded() { return guarded; }

  /** Bytes not read yet. */
  public int remaining() { return end - pos; }

  /** The position, for {@link #seek}. */
  public int position() { return pos; }

  /** Goes back (or on) to a position {@link #position} returned. */
  public void seek(int p) {
    if (p < 0 || p > end) throw new IllegalArgumentException("position " + p + " outside 0.." + end);
    pos = p;
  }

  /** The next byte (signed), not consumed; -129 at the end. */
  public int peekByte() { return pos < end ? buf[pos] : -129; }

  /** The big-endian int {@code off} bytes ahead, not consumed; throws past the end. */
  public int peekInt(int off) throws EOFException {
    int p = pos + off;
    if (off < 0 || p + 4 > end) throw new EOFException();
    return ((buf[p] & 0xFF) << 24) | ((buf[p + 1] & 0xFF) << 16) | ((buf[p + 2] & 0xFF) << 8) | (buf[p + 3] & 0xFF);
  }

  private void need(int k) throws EOFException {
    if (k < 0 || end - pos < k) throw new EOFException("payload ends: " + k + " bytes wanted, " + (end - pos) + " left");
  }

  @Override public int read() { return pos < end ? buf[pos++] & 0xFF : -1; }

  @Override public int read(byte[] b, int off, int len) {
    if (len == 0) return 0;
    if (pos >= end) return -1;
    int k = Math.min(len, end - pos);
    System.arraycopy(buf, pos, b, off, k);
    pos += k;
    return k;
  }

  @Override public int available() { return end - pos; }

  @Override public long skip(long k) {
    int s = (int) Math.max(0, Math.min(k, end - pos));
    pos += s;
    return s;
  }

  @Override public void readFully(byte[] b) throws IOException { readFully(b, 0, b.length); }

  @Override public void readFully(byte[] b, int off, int len) throws IOException {
    need(len);
    System.arraycopy(buf, pos, b, off, len);
    pos += len;
  }

  @Override public int skipBytes(int k) { return (int) skip(k); }

  @Override public boolean readBoolean() throws IOException { return readByte() != 0; }

  @Override public byte readByte() throws IOException {
    need(1);
    return buf[pos++];
  }

  @Override public int readUnsignedByte() throws IOException { return readByte() & 0xFF; }

  @Override public short readShort() throws IOException {
    need(2);
    short v = (short) (((buf[pos] & 0xFF) << 8) | (buf[pos + 1] & 0xFF));
    pos += 2;
    return v;
  }

  @Override public int readUnsignedShort() throws IOException { return readShort() & 0xFFFF; }

  @Override public char readChar() throws IOException { return (char) readShort(); }

  @Override public int readInt() throws IOException {
    int v = peekInt(0);
    pos += 4;
    return v;
  }

  @Override public long readLong() throws IOException {
    need(8);
    long v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | (buf[pos + i] & 0xFF);
    pos += 8;
    return v;
  }

  @Override public float readFloat() throws IOException { return Float.intBitsToFloat(readInt()); }

  @Override public double readDouble() throws IOException { return Double.longBitsToDouble(readLong()); }

  @Override @Deprecated public String readLine() {
    throw new UnsupportedOperationException("readLine: a payload is no text");
  }

  /** DataInput's modified UTF-8 with its u16 length; ASCII without a detour. */
  @Override public String readUTF() throws IOException {
    int start = pos;
    int len = readUnsignedShort();
    need(len);
    for (int i = 0; i < len; i++) {
      if (buf[pos + i] < 0 || buf[pos + i] == 0) {   // not plain ASCII: the JDK's decoder
        pos = start;
        return DataInputStream.readUTF(this);
      }
    }
    String s = new String(buf, pos, len, StandardCharsets.ISO_8859_1);
    pos += len;
    return s;
  }

  /** The next {@code len} bytes as UTF-8 (a Nippy string's body). */
  public String readUtf8(int len) throws IOException {
    need(len);
    String s = new String(buf, pos, len, StandardCharsets.UTF_8);
    pos += len;
    return s;
  }
}
