(ns tasklet.net.support
  "Helpers for the transport tests: a recording Endpoint, embedded-channel pumping,
  raw frames, and futures with timeouts. Not a test namespace itself."
  (:import (io.netty.buffer ByteBuf Unpooled)
           (io.netty.channel.embedded EmbeddedChannel)
           (java.io DataInputStream File)
           (java.nio.file Files)
           (java.nio.file.attribute FileAttribute)
           (java.nio ByteBuffer)
           (java.util.concurrent CompletableFuture ExecutionException LinkedBlockingQueue
                                 TimeUnit TimeoutException)
           (java.util.concurrent.atomic AtomicLong)
           (tasklet.net Config Config$Builder Connection Endpoint Frames FrameType
                        Handshake Handshake$Hello Transport)))

(set! *warn-on-reflection* true)

(def ^:const timeout-ms
  "Upper bound for anything a test waits on; generous because CI has 2 cores."
  10000)

;; ---------------------------------------------------------------- endpoint

(defn recorder
  "A map {:endpoint e :events q :log a :load l}: e is an Endpoint that adds [:connected c],
  [:frame c type payload] and [:disconnected c reason] to the queue q (which tests consume)
  and to the vector in atom a (kept whole, payloads dropped), and reports the AtomicLong l
  as its load."
  []
  (let [events (LinkedBlockingQueue.)
        log (atom [])
        record (fn [e] (swap! log conj (if (= :frame (first e)) (pop e) e)) (.add events e))
        load (AtomicLong. 0)]
    {:events events
     :log log
     :load load
     :endpoint (reify Endpoint
                 (connected [_ c] (record [:connected c]))
                 (frame [_ c t p] (record [:frame c t p]))
                 (disconnected [_ c r] (record [:disconnected c r]))
                 (load [_] (.get load)))}))

(defn lifecycle-problems
  "Checks the recorder's whole history (call after the transports closed): each
  connection had exactly one :connected, then its frames, then exactly one
  :disconnected. Returns a vector of problems, empty when all is well."
  [rec]
  (let [by-conn (group-by second @(:log rec))]
    (vec (for [[c es] by-conn
               :let [kinds (map first es)]
               :when (not (and (= :connected (first kinds))
                               (= :disconnected (last kinds))
                               (= 1 (count (filter #{:connected} kinds)))
                               (= 1 (count (filter #{:disconnected} kinds)))))]
           [(str c) (frequencies kinds) (first kinds) (last kinds)]))))

(defn next-event
  "The recorder's next event, waiting up to ms (default timeout-ms); nil if none came."
  ([rec] (next-event rec timeout-ms))
  ([rec ms] (.poll ^LinkedBlockingQueue (:events rec) (long ms) TimeUnit/MILLISECONDS)))

(defn await-event
  "Skips events until one whose first element is kind arrives; nil on timeout."
  [rec kind]
  (let [deadline (+ (System/currentTimeMillis) timeout-ms)]
    (loop []
      (let [left (- deadline (System/currentTimeMillis))]
        (when (pos? left)
          (let [e (next-event rec left)]
            (cond (nil? e) nil
                  (= kind (first e)) e
                  :else (recur))))))))

(defn drain-events
  "Every event queued now, without waiting."
  [rec]
  (let [out (java.util.ArrayList.)]
    (.drainTo ^LinkedBlockingQueue (:events rec) out)
    (vec out)))

;; ---------------------------------------------------------------- config, transports

(defn config
  "A Config for node `node-name` with `cookie`; opts may set :tick-ms, :silence-ms (the
  heartbeat timeout), :handshake-ms, :max-frame, :water [low high], :tls, :incarnation,
  :handshakes [total per-address], :inbound (max inbound bytes)."
  ^Config [node-name cookie & {:keys [tick-ms silence-ms handshake-ms max-frame water tls incarnation
                                      handshakes inbound]}]
  (let [^Config$Builder b (Config/builder ^String node-name ^String cookie)]
    (.ioThreads b 1)
    (when tick-ms (.tickMs b (long tick-ms)))
    (when silence-ms (.heartbeatTimeoutMs b (long silence-ms)))
    (when handshakes (.maxHandshakes b (int (first handshakes)) (int (second handshakes))))
    (when inbound (.maxInboundBytes b (long inbound)))
    (when handshake-ms (.handshakeTimeoutMs b (long handshake-ms)))
    (when max-frame (.maxFrameBytes b (int max-frame)))
    (when water (.writeBufferWaterMarks b (int (first water)) (int (second water))))
    (when tls (.tls b tls))
    (when incarnation (.incarnation b (int incarnation)))
    (.build b)))

(defn start
  "Starts a transport on 127.0.0.1, port 0."
  ^Transport [^Config cfg rec]
  (Transport/start cfg ^Endpoint (:endpoint rec)))

(defmacro with-transports
  "Binds each name to a started transport and closes them all in `finally`."
  [bindings & body]
  (if (empty? bindings)
    `(do ~@body)
    (let [[sym expr & more] bindings]
      `(let [~sym ~expr]
         (try (with-transports [~@more] ~@body)
              (finally (.close ~(with-meta sym {:tag `Transport}))))))))

(defn outcome
  "[:ok value], [:error cause] or [:timeout] for a CompletableFuture, waiting up to ms."
  ([f] (outcome f timeout-ms))
  ([^CompletableFuture f ms]
   (try [:ok (.get f (long ms) TimeUnit/MILLISECONDS)]
        (catch ExecutionException e [:error (.getCause e)])
        (catch TimeoutException _ [:timeout]))))

(defn connect!
  "Connects `from` to `to` and returns the Connection, or throws."
  ^Connection [^Transport from ^Transport to]
  (let [[k v] (outcome (.connect from "127.0.0.1" (.port to)))]
    (if (= k :ok)
      v
      (throw (ex-info "connect failed" {:outcome k} (when (instance? Throwable v) v))))))

;; ---------------------------------------------------------------- bytes and frames

(defn int-bytes ^bytes [n] (.array (.putInt (ByteBuffer/allocate 4) (int n))))

(defn bytes-int [^bytes b] (.getInt (ByteBuffer/wrap b)))

(defn frame-bytes
  "One encoded frame as a byte array."
  ^bytes [type ^bytes payload]
  (Frames/encodeToArray (int type) payload))

(defn hello-payload
  "A HELLO payload, as the proofs cover it."
  ^bytes [node-name incarnation address ^bytes nonce]
  (.encode (Handshake$Hello. node-name (int incarnation) address nonce)))

(defn hello-bytes
  "An encoded HELLO frame."
  ^bytes [node-name incarnation address ^bytes nonce]
  (frame-bytes FrameType/HELLO (hello-payload node-name incarnation address nonce)))

(defn parse-frames
  "Splits bytes (a ByteBuf, released afterwards) into [type payload] pairs."
  [^ByteBuf buf]
  (try
    (loop [out []]
      (if (< (.readableBytes buf) 5)
        out
        (let [len (.readInt buf)
              type (.readUnsignedByte buf)
              p (byte-array (dec len))]
          (.readBytes buf p)
          (recur (conj out [type p])))))
    (finally (.release buf))))

(defn read-frame
  "Reads one frame [type payload] from a blocking DataInputStream."
  [^DataInputStream in]
  (let [len (.readInt in)
        type (.readUnsignedByte in)
        p (byte-array (dec len))]
    (.readFully in p)
    [type p]))

;; ---------------------------------------------------------------- embedded channels

(def ^:dynamic *embedded*
  "An atom collecting the EmbeddedChannels a test made, bound by `release-embedded`."
  nil)

(defn embedded
  "An active EmbeddedChannel with the given handlers, released after the test when the
  namespace uses the `release-embedded` fixture."
  ^EmbeddedChannel [& handlers]
  (let [ch (EmbeddedChannel. ^"[Lio.netty.channel.ChannelHandler;"
                             (into-array io.netty.channel.ChannelHandler handlers))]
    (some-> *embedded* (swap! conj ch))
    ch))

(defn release-embedded
  "A clojure.test :each fixture: closes every channel made by `embedded` during the test
  and releases the buffers still queued in it (so leak detection stays quiet)."
  [f]
  (binding [*embedded* (atom [])]
    (try (f)
         (finally
           (doseq [^EmbeddedChannel ch @*embedded*]
             (.finishAndReleaseAll ch))))))

(defn feed!
  "Writes raw bytes into an EmbeddedChannel's inbound side and runs its pending tasks."
  [^EmbeddedChannel ch ^bytes b]
  (.writeInbound ch (object-array [(Unpooled/wrappedBuffer b)]))
  (.runPendingTasks ch))

(defn outbound-frames
  "Every frame the channel has written so far, as [type payload] pairs."
  [^EmbeddedChannel ch]
  (.runPendingTasks ch)
  (loop [out []]
    (if-let [^ByteBuf b (.readOutbound ch)]
      (recur (into out (parse-frames b)))
      out)))

(defn pump!
  "Moves bytes between two EmbeddedChannels until neither has anything to send."
  [^EmbeddedChannel a ^EmbeddedChannel b]
  (loop [rounds 0]
    (.runPendingTasks a)
    (.runPendingTasks b)
    (let [moved (atom false)]
      (doseq [[^EmbeddedChannel from ^EmbeddedChannel to] [[a b] [b a]]]
        (loop []
          (when-let [^ByteBuf m (.readOutbound from)]
            (reset! moved true)
            (if (.isOpen to)
              (do (.writeInbound to (object-array [m])) (.runPendingTasks to))
              (.release m))
            (recur))))
      (when (and @moved (< rounds 100))
        (recur (inc rounds))))))

(defn proof
  "The PROOF of the side in role (Handshake/INITIATOR or ACCEPTOR) of a connection whose
  HELLO payloads were initiator-hello and acceptor-hello, without TLS."
  ^bytes [^String cookie ^String role ^bytes initiator-hello ^bytes acceptor-hello]
  (Handshake/proof (.getBytes cookie "UTF-8") role initiator-hello acceptor-hello (byte-array 0)))

;; ---------------------------------------------------------------- TLS key stores

(def store-password
  "The password of every key store `key-store!` makes."
  "changeit")

(defn- keytool!
  "Runs the JDK's keytool with args; throws with its output if it fails."
  [& args]
  (let [exe (str (System/getProperty "java.home") File/separator "bin" File/separator "keytool")
        pb (doto (ProcessBuilder. ^java.util.List (into [exe] args)) (.redirectErrorStream true))
        p (.start pb)
        out (slurp (.getInputStream p))]
    (when-not (and (.waitFor p 60 TimeUnit/SECONDS) (zero? (.exitValue p)))
      (throw (ex-info (str "keytool failed: " out) {:args args})))))

(defn key-store!
  "A fresh self-signed EC key pair (CN=name) in dir/name.p12, password
  `store-password`; returns the path. The store also serves as a trust store
  that trusts exactly that certificate."
  [^File dir name]
  (let [path (str (File. dir (str name ".p12")))]
    (keytool! "-genkeypair" "-alias" name "-keyalg" "EC" "-groupname" "secp256r1"
              "-dname" (str "CN=" name) "-validity" "2" "-storetype" "PKCS12"
              "-keystore" path "-storepass" store-password "-keypass" store-password)
    path))

(defn temp-dir
  "A fresh temporary directory."
  ^File [prefix]
  (.toFile (Files/createTempDirectory prefix (make-array FileAttribute 0))))

(defn delete-tree
  "Deletes f and everything under it."
  [^File f]
  (doseq [^File c (reverse (file-seq f))] (.delete c)))
