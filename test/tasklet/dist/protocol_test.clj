(ns tasklet.dist.protocol-test
  "The node protocol (tasklet.dist, Java) on Netty's EmbeddedChannel, without
  tasklet.node or Nippy: two kernel nodes, a Dist each, two unbound
  transports joined by a pair of embedded channels, and a codec that passes
  values by reference (what a loopback that skips the freeze does). The test
  thread pumps the channels and plays a tasklet of node pa (Node.self), so
  every frame is written and read on it; pb's tasklets only forward what
  they get to a queue."
  (:require [clojure.test :refer [deftest is use-fixtures]]
            [tasklet.core :as t]
            [tasklet.net.support :as s])
  (:import [java.nio ByteBuffer]
           [java.util.concurrent ConcurrentHashMap LinkedBlockingQueue TimeUnit]
           [java.util.concurrent.atomic AtomicLong]
           [io.netty.channel.embedded EmbeddedChannel]
           [tasklet.dist Codec Dist DistFrames]
           [tasklet.kernel Links Node NodeOptions Pid Ref Signals Tasklet]
           [tasklet.net Connection Transport]))

(set! *warn-on-reflection* true)

(use-fixtures :each s/release-embedded)

(defn- by-reference
  "A Codec shared by both ends: a payload is the 8-byte id of the value,
  kept in a table until the other end decodes it."
  ^Codec []
  (let [table (ConcurrentHashMap.)
        ids (AtomicLong.)
        put! (fn [v] (let [id (.incrementAndGet ids)]
                       (.put table id v)
                       (.array (.putLong (ByteBuffer/allocate 8) id))))]
    (reify Codec
      (encode [_ fields] (put! (vec fields)))
      (encodeTerm [_ term] (put! term))
      (decode [_ b]
        (or (when (= 8 (alength ^bytes b)) (.remove table (.getLong (ByteBuffer/wrap b))))
            (throw (ex-info "not a payload of this codec" {}))))
      (keyword [_ n] (keyword n))
      (vector [_ items] (vec items))
      (map [_ kvs] (apply hash-map kvs))
      (downParts [_ m]
        (when (and (vector? m) (= 5 (count m)) (= :DOWN (m 0)) (instance? Ref (m 1)))
          (object-array [(m 1) (m 3) (m 4)])))
      (standIn [_ r] {:stand-in (pr-str r)})
      (printable [_ x] (pr-str x))
      (remoteError [_ v] (ex-info (str (:message v)) v)))))

(defn- node ^Node [nm inc]
  (Node. (-> (NodeOptions/builder nm) (.incarnation (int inc)) (.parallelism 1) (.build))))

(defn- joined
  "Nodes pa and pb with their protocols connected over embedded channels:
  {:na :nb :da :db :ca :cb}."
  []
  (let [codec (by-reference)
        na (node "pa" 11)
        nb (node "pb" 22)
        no-requests (fn [_ _] (object-array [:error {:message "none here"}]))
        da (Dist. na codec no-requests 2000 2000)
        db (Dist. nb codec no-requests 2000 2000)
        ta (Transport/unbound (s/config "pa" "cookie" :incarnation 11) (.endpoint da))
        tb (Transport/unbound (s/config "pb" "cookie" :incarnation 22) (.endpoint db))
        _ (.install da ta)
        _ (.install db tb)
        ca (s/embedded)
        cb (s/embedded)]
    (.attach ta ca true)
    (.attach tb cb false)
    (s/pump! ca cb)
    {:na na :nb nb :da da :db db :ca ca :cb cb :codec codec}))

(defn- forwarder
  "Spawns a trapping tasklet on n that adds [tag msg] to q for each message."
  ^Pid [^Node n q tag]
  (.spawn n (fn [] (t/trap-exit! true)
              (loop [] (t/receive m (do (.add ^LinkedBlockingQueue q [tag m]) (recur)))))
          nil nil nil nil nil))

(defn- mailbox
  "What the calling (thread) tasklet has received so far, as a set."
  []
  (set (take-while #(not= % ::none) (repeatedly #(t/receive m m (after 0 ::none))))))

(defn- on-own-thread
  "Runs f on a new thread (not a pooled one: its thread tasklet must be new,
  and ends with it) and returns its result."
  [f]
  (let [p (promise)]
    (doto (Thread. ^Runnable (fn [] (deliver p (try [:ok (f)] (catch Throwable e [:error e])))))
      (.setDaemon true)
      (.start))
    (let [[k v] (deref p 30000 [:timeout])]
      (case k :ok v :error (throw v) :timeout (throw (ex-info "timed out" {}))))))

(deftest frames-tables-and-loss
  (on-own-thread
    (fn []
      (let [{:keys [^Node na ^Node nb ^Dist da ^Dist db ^EmbeddedChannel ca ^EmbeddedChannel cb
                    ^Codec codec]} (joined)
            q (LinkedBlockingQueue.)
            next! #(.poll q 5 TimeUnit/SECONDS)
            pump! #(s/pump! ca cb)]
        (try
          (is (= "pb" (.peerName (.connection da "pb"))) "connected")
          (let [me ^Tasklet (.self na)      ; this thread, as a tasklet of pa
                mp (.pid me)
                pbp (forwarder nb q :pb)]
            (Signals/trapExit me true)
            ;; a send crosses as a SEND frame; one to an earlier incarnation of pb is dropped
            (.send (.distribution da) (Pid. "pb" (.-serial pbp) 21) :stale)
            (.send (.distribution da) pbp [:hello 1])
            (pump!)
            (is (= [:pb [:hello 1]] (next!)))
            ;; link, monitor and exit signal from pa's tasklet: the kernel routes them to pa's protocol
            (Links/link me pbp)
            (let [r (t/monitor pbp)]
              (Signals/exit me pbp :bye)
              (pump!)
              (is (= [:pb [:EXIT mp :bye]] (next!)))
              (is (= #{mp} (set (:links (t/process-info pbp)))))
              (is (= [mp] (:monitored-by (t/process-info pbp))))
              (is (= [[mp pbp]] (get (.tables da "pb") "links")))
              (is (= 1 (count (get (.tables db "pa") "watched"))))
              ;; a LINK "from" a pid that is not pa's is a forgery: pb closes the connection
              (.send (.connection da "pb") DistFrames/LINK (.encode codec (object-array [(Pid. "pz" 1 1) pbp])))
              (pump!)
              (pump!)
              (is (nil? (.connection db "pa")))
              (is (nil? (.connection da "pb")))
              ;; the loss breaks the link both ways and fires the monitor, with :noconnection
              (is (= #{[:EXIT pbp :noconnection] [:DOWN r :process pbp :noconnection]} (mailbox)))
              (is (= [:pb [:EXIT mp :noconnection]] (next!)))
              (is (nil? (.poll q 100 TimeUnit/MILLISECONDS)) "one signal each")
              (is (= {:links [] :monitors [] :monitored-by []}
                     (select-keys (t/process-info pbp) [:links :monitors :monitored-by])))
              (doseq [[^Dist d peer] [[da "pb"] [db "pa"]]]
                (is (every? empty? (vals (dissoc (into {} (.tables d peer)) "address")))
                    (str peer ": nothing left in the tables")))
              ;; with no connection (and no address), a send is dropped and a link gives :noconnection
              (.send (.distribution da) pbp :lost)
              (Links/link me pbp)
              (is (= #{[:EXIT pbp :noconnection]} (mailbox)))
              (is (nil? (.poll q 100 TimeUnit/MILLISECONDS)))))
          (finally
            (.close da)
            (.close db)
            (.shutdown na)
            (.shutdown nb)))))))

(deftest hostile-frames-close-only-that-connection
  (on-own-thread
    (fn []
      (doseq [[what ^bytes payload type] [["unknown type" (byte-array 8) 0x7F]
                                          ["a payload that does not decode" (byte-array 3) DistFrames/SEND]]]
        (let [{:keys [^Node na ^Node nb ^Dist da ^Dist db ^EmbeddedChannel ca ^EmbeddedChannel cb]} (joined)]
          (try
            (.send (.connection da "pb") (int type) payload)
            (s/pump! ca cb)
            (s/pump! ca cb)
            (is (nil? (.connection db "pa")) what)
            (finally
              (.close da)
              (.close db)
              (.shutdown na)
              (.shutdown nb))))))))
