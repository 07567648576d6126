(ns tasklet.net.handshake-test
  "The handshake on Netty's EmbeddedChannel: two nodes' pipelines pumped into each
  other by hand, plus scripted peers that misbehave. Deterministic: no sockets, no
  threads, no timers unless a test advances them."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.net.support :as s])
  (:import (io.netty.channel.embedded EmbeddedChannel)
           (java.util.concurrent TimeUnit)
           (tasklet.net AuthFailedException Connection FrameType Handshake Handshake$Hello
                        HandshakeException Transport)))

(set! *warn-on-reflection* true)

(use-fixtures :each s/release-embedded)

(defn- node
  "An unbound transport with a recorder: {:t transport :rec recorder}."
  [node-name cookie & opts]
  (let [rec (s/recorder)]
    {:rec rec :t (Transport/unbound (apply s/config node-name cookie opts) (:endpoint rec))}))

(defn- link
  "Attaches a (initiator) and b (acceptor) to two fresh EmbeddedChannels, whose clocks
  stand still unless a test advances them, and pumps."
  [a b]
  (let [ca (doto (s/embedded) (.freezeTime))
        cb (doto (s/embedded) (.freezeTime))
        fa (.attach ^Transport (:t a) ca true)
        fb (.attach ^Transport (:t b) cb false)]
    (s/pump! ca cb)
    {:ca ca :cb cb :fa fa :fb fb}))

;; Both sides open, learn each other's name, incarnation and address, and frames flow
;; both ways after connected.
(deftest handshake-success
  (let [a (node "alpha" "secret" :incarnation 11)
        b (node "beta" "secret" :incarnation 22)
        {:keys [^EmbeddedChannel ca ^EmbeddedChannel cb fa fb]} (link a b)
        [ka ^Connection conn-a] (s/outcome fa 0)
        [kb ^Connection conn-b] (s/outcome fb 0)]
    (is (= [:ok :ok] [ka kb]))
    (is (= ["beta" 22 "alpha" 11] [(.peerName conn-a) (.peerIncarnation conn-a)
                                   (.peerName conn-b) (.peerIncarnation conn-b)]))
    (is (= "127.0.0.1:0" (.peerAddress conn-a)))
    (is (= [[:connected conn-a]] (s/drain-events (:rec a))))
    (is (= [[:connected conn-b]] (s/drain-events (:rec b))))
    (is (identical? conn-a (.connection ^Transport (:t a) "beta")))
    (.send conn-a 0x10 (byte-array [1 2]))
    (.send conn-b 0x7f (byte-array [3]))
    (s/pump! ca cb)
    (let [[[_ _ t1 p1]] (s/drain-events (:rec b))
          [[_ _ t2 p2]] (s/drain-events (:rec a))]
      (is (= [0x10 [1 2]] [t1 (vec p1)]))
      (is (= [0x7f [3]] [t2 (vec p2)])))
    (testing "close tells the peer, both report disconnected once"
      (.close conn-a "bye")
      (s/pump! ca cb)
      (.runPendingTasks ca)
      (.runPendingTasks cb)
      (is (= [[:disconnected conn-a "bye"]] (s/drain-events (:rec a))))
      (is (= [[:disconnected conn-b "closed by peer: bye"]] (s/drain-events (:rec b))))
      (is (nil? (.connection ^Transport (:t a) "beta"))))))

;; Different cookies: both outcomes fail with AuthFailedException, both channels close,
;; neither endpoint hears of a connection.
(deftest wrong-cookie
  (let [a (node "alpha" "secret")
        b (node "beta" "guess")
        {:keys [^EmbeddedChannel ca ^EmbeddedChannel cb fa fb]} (link a b)]
    (let [[ka ea] (s/outcome fa 0)
          [kb eb] (s/outcome fb 0)]
      (is (= [:error :error] [ka kb]))
      (is (instance? AuthFailedException ea))
      (is (instance? AuthFailedException eb)))
    (is (not (.isOpen ca)))
    (is (not (.isOpen cb)))
    (is (= [] (s/drain-events (:rec a)) (s/drain-events (:rec b))))))

;; A scripted peer that sends an application frame instead of HELLO is cut off, and the
;; frame is never delivered.
(deftest app-frame-before-handshake
  (let [a (node "alpha" "secret")
        ch (s/embedded)
        f (.attach ^Transport (:t a) ch false)]
    (s/feed! ch (s/frame-bytes 0x10 (byte-array [9 9 9])))
    (is (not (.isOpen ch)))
    (let [[k ^Throwable e] (s/outcome f 0)]
      (is (= :error k))
      (is (.contains (.getMessage e) "app 0x10 frame before the handshake completed")))
    (let [sent (mapv first (s/outbound-frames ch))]
      (is (= [FrameType/HELLO FrameType/CLOSE] sent) "HELLO, then CLOSE with the reason"))
    (is (= [] (s/drain-events (:rec a))))))

;; A peer that proves the cookie but sends an app frame before ACCEPT (it is the higher
;; name, so it must wait for the verdict) is cut off too.
(deftest app-frame-before-accept
  (let [a (node "beta" "secret") ; the scripted peer "alpha" decides; "beta" awaits ACCEPT
        ch (s/embedded)
        f (.attach ^Transport (:t a) ch true)
        [[_ beta-hello]] (s/outbound-frames ch)
        alpha-hello (s/hello-payload "alpha" 1 "h:1" (Handshake/nonce))]
    (s/feed! ch (s/frame-bytes FrameType/HELLO alpha-hello))
    (is (= [FrameType/PROOF] (mapv first (s/outbound-frames ch))) "the initiator proves first")
    (s/feed! ch (s/frame-bytes FrameType/PROOF
                               (s/proof "secret" Handshake/ACCEPTOR beta-hello alpha-hello)))
    (is (.isOpen ch) "authenticated, waiting for ACCEPT")
    (s/feed! ch (s/frame-bytes 0x20 (byte-array 1)))
    (is (not (.isOpen ch)))
    (is (= :error (first (s/outcome f 0))))
    (is (= [] (s/drain-events (:rec a))))))

;; The accepting side proves last: to a connecting peer it sends its HELLO and nothing
;; keyed by the cookie until that peer has proved the cookie, so an unauthenticated
;; connection gets nothing to test cookie guesses against offline, and a listening node
;; is no signing oracle (on the old protocol it answered every HELLO with a PROOF).
(deftest acceptor-proves-last
  (testing "a wrong proof gets a CLOSE, never a PROOF"
    (let [a (node "alpha" "secret")
          ch (s/embedded)
          f (.attach ^Transport (:t a) ch false)
          [[_ alpha-hello]] (s/outbound-frames ch)]
      (s/feed! ch (s/hello-bytes "mallory" 1 "h:1" (Handshake/nonce)))
      (is (= [] (s/outbound-frames ch)) "nothing after a HELLO alone")
      (s/feed! ch (s/frame-bytes FrameType/PROOF (byte-array 32)))
      (is (= [FrameType/CLOSE] (mapv first (s/outbound-frames ch))))
      (is (instance? AuthFailedException (second (s/outcome f 0))))
      (is (not (.isOpen ch)))))
  (testing "a right proof gets the acceptor's proof, which binds both HELLOs and the role"
    (let [a (node "alpha" "secret")
          ch (s/embedded)
          f (.attach ^Transport (:t a) ch false)
          [[_ alpha-hello]] (s/outbound-frames ch)
          zed-hello (s/hello-payload "zed" 1 "h:1" (Handshake/nonce))]
      (s/feed! ch (s/frame-bytes FrameType/HELLO zed-hello))
      (s/feed! ch (s/frame-bytes FrameType/PROOF
                                 (s/proof "secret" Handshake/INITIATOR zed-hello alpha-hello)))
      (let [[[t p] & more] (s/outbound-frames ch)]
        (is (= FrameType/PROOF t))
        (is (= (vec (s/proof "secret" Handshake/ACCEPTOR zed-hello alpha-hello)) (vec p)))
        (is (not= (vec (s/proof "secret" Handshake/INITIATOR zed-hello alpha-hello)) (vec p)))
        (is (= [FrameType/ACCEPT] (mapv first more)) "alpha decides and keeps it"))
      (is (= :ok (first (s/outcome f 0)))))))

;; A peer that reflects our own proof back (the roles swapped) fails the check, on both
;; roles: the initiator's own proof sent back as the acceptor's.
(deftest reflected-proof
  (let [a (node "alpha" "secret")
        ch (s/embedded)
        f (.attach ^Transport (:t a) ch true)
        [[_ alpha-hello]] (s/outbound-frames ch)]
    (s/feed! ch (s/hello-bytes "mallory" 1 "h:1" (Handshake/nonce)))
    (let [[[_ alpha-proof]] (s/outbound-frames ch)]
      (s/feed! ch (s/frame-bytes FrameType/PROOF alpha-proof)))
    (is (instance? AuthFailedException (second (s/outcome f 0))))
    (is (not (.isOpen ch)))))

;; Before the peer has proved the cookie, a frame larger than the handshake needs closes
;; the connection from its header alone (the old bound was maxFrameBytes, 64 MiB); after
;; it, maxFrameBytes applies.
(deftest handshake-frame-bound
  (let [a (node "alpha" "secret")
        ch (s/embedded)
        f (.attach ^Transport (:t a) ch false)]
    (s/outbound-frames ch)
    (s/feed! ch (s/int-bytes (inc Handshake/MAX_FRAME_BYTES)))
    (is (not (.isOpen ch)) "closed on the 4-byte length alone")
    (is (re-find #"frame length 4097 outside 1..4096" (.getMessage ^Throwable (second (s/outcome f 0))))))
  (let [a (node "beta" "secret")
        b (node "alpha" "secret")
        {:keys [^EmbeddedChannel ca ^EmbeddedChannel cb fa fb]} (link a b)
        [_ ^Connection conn] (s/outcome fa 0)]
    (.send conn 0x10 (byte-array 100000))
    (s/pump! ca cb)
    (let [[_ [_ _ t p]] (s/drain-events (:rec b))]
      (is (= [0x10 100000] [t (alength ^bytes p)])))))

;; A HELLO whose name would forge log lines (a newline, a control character) is refused.
(deftest unprintable-name-refused
  (let [a (node "alpha" "secret")
        ch (s/embedded)
        f (.attach ^Transport (:t a) ch false)]
    (s/feed! ch (s/hello-bytes "x\nWARNING: forged" 1 "h:1" (Handshake/nonce)))
    (let [[k ^Throwable e] (s/outcome f 0)]
      (is (= :error k))
      (is (.contains (.getMessage e) "x\\nWARNING:") (.getMessage e)))))

;; The incarnation is 32 bits (protocol version 3, as OTP's creation) and never 0 (a node
;; without distribution's, whose pids a peer's must never equal): a HELLO claiming 0, one of
;; version 2 (its incarnation an i64) and one of version 3 with an i64 incarnation (a peer
;; lying about its layout) are refused with a CLOSE, and the node learns no peer.
(deftest hello-incarnation-refused
  (let [hello (fn [version ^bytes name inc-bytes]
                (let [addr (.getBytes "h:1" "UTF-8")
                      b (java.nio.ByteBuffer/allocate (+ 1 2 (alength name) (count inc-bytes) 2
                                                         (alength addr) Handshake/NONCE_BYTES))]
                  (.put b (byte version))
                  (.putShort b (short (alength name))) (.put b name)
                  (.put b (byte-array inc-bytes))
                  (.putShort b (short (alength addr))) (.put b addr) (.put b (Handshake/nonce))
                  (s/frame-bytes FrameType/HELLO (.array b))))
        zed (.getBytes "zed" "UTF-8")]
    (doseq [[what frame msg] [["incarnation 0" (s/hello-bytes "zed" 0 "h:1" (Handshake/nonce)) "incarnation 0"]
                              ["version 2" (hello 2 zed [0 0 0 0 0 0 0 7]) "version 2"]
                              ["version 3, an i64 incarnation" (hello 3 zed [0 0 0 0 0 0 0 7]) "malformed HELLO"]]]
      (testing what
        (let [a (node "alpha" "secret")
              ch (s/embedded)
              f (.attach ^Transport (:t a) ch false)]
          (s/feed! ch frame)
          (let [[k ^Throwable e] (s/outcome f 0)]
            (is (= :error k))
            (is (some-> e .getMessage (.contains ^String msg)) (some-> e .getMessage)))
          (is (= [FrameType/HELLO FrameType/CLOSE] (mapv first (s/outbound-frames ch))))
          (is (not (.isOpen ch)))
          (is (= [] (s/drain-events (:rec a)))))))
    (testing "a well-formed version-3 HELLO with the same name and a non-zero incarnation decodes"
      (is (= -5 (.incarnation (Handshake$Hello/decode (.encode (Handshake$Hello. "zed" -5 "h:1" (Handshake/nonce))))))))))

;; A node's incarnation, as OTP chooses a creation: non-zero, 32 bits, and a different one for
;; each start in this JVM; a Config refuses 0.
(deftest fresh-incarnations
  (let [xs (repeatedly 10000 #(tasklet.net.Config/freshIncarnation))]
    (is (every? #(and (int? %) (not (zero? %)) (<= Integer/MIN_VALUE % Integer/MAX_VALUE)) xs))
    (is (= 10000 (count (set xs))) "never one given out before"))
  (is (not= (.incarnation (s/config "alpha" "c")) (.incarnation (s/config "alpha" "c"))))
  (is (thrown? IllegalArgumentException (s/config "alpha" "c" :incarnation 0))))

;; A peer's CLOSE reason goes into log lines and errors escaped and cut to a bound (the
;; old code logged it whole, newlines included: a peer could forge log lines, or send
;; 4 MiB of log text).
(deftest close-reason-escaped-and-cut
  (let [a (node "alpha" "secret")
        ch (s/embedded)
        f (.attach ^Transport (:t a) ch false)
        reason (apply str (repeat 200 "line\nWARNING: x "))]
    (s/feed! ch (s/frame-bytes FrameType/CLOSE (byte-array (cons 3 (.getBytes reason "UTF-8")))))
    (let [[k ^Throwable e] (s/outcome f 0)
          m (.getMessage e)]
      (is (= :error k))
      (is (not (.contains m "\n")) m)
      (is (.contains m "line\\nWARNING") m)
      (is (< (count m) 400) (str (count m) " characters")))))

;; The same name on both ends (a node connecting to itself) is refused.
(deftest own-name-refused
  (let [a (node "alpha" "secret")
        ch (s/embedded)
        f (.attach ^Transport (:t a) ch false)]
    (s/feed! ch (s/hello-bytes "alpha" 1 "h:1" (Handshake/nonce)))
    (let [[k ^Throwable e] (s/outcome f 0)]
      (is (= :error k))
      (is (.contains (.getMessage e) "like this node")))))

;; A peer that never completes is closed when the handshake timer fires.
(deftest handshake-timeout
  (let [a (node "alpha" "secret" :handshake-ms 200)
        ch (doto (s/embedded) (.freezeTime))
        f (.attach ^Transport (:t a) ch false)]
    (.advanceTimeBy ch 199 TimeUnit/MILLISECONDS)
    (.runScheduledPendingTasks ch)
    (is (.isOpen ch))
    (.advanceTimeBy ch 2 TimeUnit/MILLISECONDS)
    (.runScheduledPendingTasks ch)
    (.runPendingTasks ch)
    (is (not (.isOpen ch)))
    (let [[k ^Throwable e] (s/outcome f 0)]
      (is (= :error k))
      (is (instance? HandshakeException e))
      (is (.contains (.getMessage e) "did not finish within 200 ms")))))

;; Once open, a connection silent for the heartbeat timeout is closed and reported.
(deftest heartbeat-timeout-embedded
  (let [a (node "alpha" "secret" :tick-ms 100 :silence-ms 200)
        b (node "beta" "secret" :tick-ms 100 :silence-ms 200)
        {:keys [^EmbeddedChannel ca fa]} (link a b)
        [_ conn] (s/outcome fa 0)]
    (is (= [[:connected conn]] (s/drain-events (:rec a))))
    ;; b's ticks never reach a: only a's clock moves
    (.advanceTimeBy ca 150 TimeUnit/MILLISECONDS)
    (.runScheduledPendingTasks ca)
    (is (.isOpen ca))
    (.advanceTimeBy ca 60 TimeUnit/MILLISECONDS)
    (.runScheduledPendingTasks ca)
    (.runPendingTasks ca)
    (is (= [[:disconnected conn "heartbeat timeout"]] (s/drain-events (:rec a))))))

;; The defaults ride out a pause of 9 s (a GC, a SIGSTOP: the old detector dropped a
;; peer after 2 s) and still declare a silent peer lost at 10 s, within the 15 s bound.
(deftest default-failure-detector
  (let [a (node "alpha" "secret")
        b (node "beta" "secret")
        {:keys [^EmbeddedChannel ca fa]} (link a b)
        [_ conn] (s/outcome fa 0)]
    (is (= [[:connected conn]] (s/drain-events (:rec a))))
    (.advanceTimeBy ca 9900 TimeUnit/MILLISECONDS)
    (.runScheduledPendingTasks ca)
    (.runPendingTasks ca)
    (is (= [] (s/drain-events (:rec a))) "alive after 9.9 s of silence")
    (.advanceTimeBy ca 150 TimeUnit/MILLISECONDS)
    (.runScheduledPendingTasks ca)
    (.runPendingTasks ca)
    (is (= [[:disconnected conn "heartbeat timeout"]] (s/drain-events (:rec a))))))

;; A garbage stream on one open connection closes it with a reason; the peer is told.
(deftest garbage-on-open-connection
  (let [a (node "alpha" "secret")
        b (node "beta" "secret")
        {:keys [^EmbeddedChannel ca ^EmbeddedChannel cb fa fb]} (link a b)
        [_ conn-a] (s/outcome fa 0)
        [_ conn-b] (s/outcome fb 0)]
    (s/drain-events (:rec a))
    (s/drain-events (:rec b))
    (s/feed! cb (byte-array [0 0 0 5 (unchecked-byte 0xee) 1 2 3 4]))
    (s/pump! ca cb)
    (.runPendingTasks ca)
    (let [[[kb _ rb]] (s/drain-events (:rec b))
          [[ka _ ra]] (s/drain-events (:rec a))]
      (is (= :disconnected kb ka))
      (is (= "protocol error: bad frame: unknown frame type 0xee" rb))
      (is (= "closed by peer: protocol error: bad frame: unknown frame type 0xee" ra)))))
