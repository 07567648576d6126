(ns ^:no-doc tasklet.impl.codec
  "How values cross nodes: Nippy (fast-freeze, no header, no compression) with
  extensions for pids, refs and Throwables, and a Java-serialization allow-list.

  - Pid and Ref: [node-name serial incarnation]; a thawed pid resolves lazily
    through its node's process table (tasklet.kernel.Node/resolve).
  - Throwable: written as class name, message, ex-data, cause (recursively) and
    up to 64 stack frames; it is thawed as an ex-info whose data is the original
    ex-data plus :tasklet/class (the original class name, kept from the first
    hop) and whose stack trace is the original one. So any Throwable crosses,
    even of a class the receiver does not have.
  - Java serialization: refused on both sides unless the class name is in the
    allow-list (start!'s :serializable-allowlist: class names or Nippy
    patterns such as java.time.*; default #{}). A refused class is unfreezable on the sender (the send throws
    :unserializable) and, if a peer sends one anyway, thaws as Nippy's
    quarantine map {:nippy/unthawable {...}}: never instantiated."
  {:skip-wiki true}
  (:require [taoensso.nippy :as nippy])
  (:import [java.io DataInput DataOutput]
           [tasklet.kernel Pid Ref]))

(set! *warn-on-reflection* true)

(nippy/extend-freeze Pid :tasklet/pid [^Pid p ^DataOutput out]
  (.writeUTF out (.-node p))
  (.writeLong out (.-serial p))
  (.writeLong out (.-incarnation p)))

(nippy/extend-thaw :tasklet/pid [^DataInput in]
  (Pid. (.readUTF in) (.readLong in) (.readLong in)))

(nippy/extend-freeze Ref :tasklet/ref [^Ref r ^DataOutput out]
  (.writeUTF out (.-node r))
  (.writeLong out (.-id r))
  (.writeLong out (.-incarnation r)))

(nippy/extend-thaw :tasklet/ref [^DataInput in]
  (Ref. (.readUTF in) (.readLong in) (.readLong in)))

(def ^:private max-frames 64)

(defn- safe-data
  "ex-data that can be frozen, else a printed stand-in (a Throwable must always
  cross: it is often an exit reason)."
  [data]
  (when data
    (try (nippy/fast-freeze data) data
         (catch Exception _ {:tasklet/unserializable-data (pr-str data)}))))

(nippy/extend-freeze Throwable :tasklet/throwable [^Throwable t ^DataOutput out]
  (let [data (ex-data t)
        cls (or (:tasklet/class data) (.getName (class t)))
        trace (.getStackTrace t)
        n (min max-frames (alength trace))]
    (.writeUTF out cls)
    (nippy/freeze-to-out! out (.getMessage t))
    (nippy/freeze-to-out! out (safe-data data))
    (let [cause (.getCause t)]
      (nippy/freeze-to-out! out (when-not (identical? cause t) cause)))
    (.writeShort out (int n))
    (dotimes [i n]
      (let [^StackTraceElement e (aget trace i)]
        (.writeUTF out (.getClassName e))
        (.writeUTF out (.getMethodName e))
        (.writeUTF out (or (.getFileName e) ""))
        (.writeInt out (.getLineNumber e))))))

(nippy/extend-thaw :tasklet/throwable [^DataInput in]
  (let [cls (.readUTF in)
        msg (nippy/thaw-from-in! in)
        data (nippy/thaw-from-in! in)
        cause (nippy/thaw-from-in! in)
        n (.readShort in)
        trace (into-array StackTraceElement
                          (for [_ (range n)]
                            (let [c (.readUTF in) m (.readUTF in) f (.readUTF in) l (.readInt in)]
                              (StackTraceElement. c m (when-not (= "" f) f) l))))
        ^Throwable e (ex-info (when msg (str msg))
                   (assoc (if (map? data) data {}) :tasklet/class cls)
                   (when (instance? Throwable cause) cause))]
    (.setStackTrace e trace)
    e))

(defn encode
  "Freezes x to bytes. Throws ex-info {:tasklet/error :unserializable} when x
  holds something Nippy cannot freeze (or a class not in `allowlist` for Java
  serialization). Any thread."
  ^bytes [x allowlist]
  (try
    (binding [nippy/*freeze-serializable-allowlist* allowlist]
      (nippy/fast-freeze x))
    (catch Exception e
      (throw (ex-info (str "cannot send this value to another node: " (.getMessage e)
                           "; send plain Clojure data (maps, vectors, strings, numbers, keywords,"
                           " pids, refs, records...), or allow-list a Serializable class with"
                           " start!'s :serializable-allowlist")
                      (merge {:tasklet/error :unserializable}
                             (select-keys (ex-data e) [:type]))
                      e)))))

(defn decode
  "Thaws bytes made by `encode`; throws on a payload that does not thaw. Java-
  serialized classes not in `allowlist` thaw as Nippy's quarantine map, never
  instantiated. Any thread."
  [^bytes b allowlist]
  (binding [nippy/*thaw-serializable-allowlist* allowlist
            nippy/*serializable-whitelist* nil]
    (nippy/fast-thaw b)))
