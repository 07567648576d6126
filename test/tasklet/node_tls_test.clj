(ns tasklet.node-tls-test
  "Distribution over mutual TLS (start!'s :tls), with self-signed key stores
  made by the JDK's keytool: nodes of this JVM connect and serve requests over
  it; a node whose certificate is not trusted, or that speaks no TLS, cannot
  connect and gets an ex-info that says why; a bad :tls is refused before
  anything starts; and a child JVM of a TLS node gets TLS too, so messages,
  spawn-on, monitors and links cross a TLS connection. Every wait is bounded;
  nothing sleeps."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.net.support :as s]
            [tasklet.node :as node]
            [tasklet.node.helpers :as h :refer [with-nodes]])
  (:import (tasklet.kernel Pid)
           (tasklet.net Tls)))

(set! *warn-on-reflection* true)

(def ^:private cookie "tls-test-cookie")

(def ^:dynamic *stores*
  "{:cluster path :stranger path}: two key stores, each with its own
  self-signed certificate (each also a trust store trusting just that one)."
  nil)

(defn- with-stores [f]
  (let [dir (s/temp-dir "tasklet-node-tls")]
    (try
      (binding [*stores* {:cluster (s/key-store! dir "cluster")
                          :stranger (s/key-store! dir "stranger")}]
        (f))
      (finally (s/delete-tree dir)))))

(use-fixtures :once with-stores)

(defn- tls
  "The :tls map presenting the certificate of key store k and trusting that of
  trust store tr (both keys of *stores*)."
  ([k] (tls k k))
  ([k tr] {:keystore (*stores* k) :keystore-password s/store-password
           :truststore (*stores* tr) :truststore-password s/store-password}))

(defn- start [nm & {:as opts}] (h/start-node cookie nm opts))

(defn- connect-error
  "The ex-data and message of what (connect! address) on node h throws, or nil."
  [h address]
  (try (node/run-on h node/connect! address) nil
       (catch clojure.lang.ExceptionInfo e [(:tasklet/error (ex-data e)) (.getMessage e)])))

(defn- next-msg
  "The next message within 5 s, else :timeout."
  []
  (receive m m (after 5000 :timeout)))

;; Two nodes with certificates they trust connect over TLS; requests cross it
;; (spawn-on, remote process-info), and node monitors work on it.
(deftest trusted-nodes-connect
  (with-nodes [a (start :tls-a :tls (tls :cluster)) b (start :tls-b :tls (tls :cluster))]
    (is (= :tls-b (node/run-on a node/connect! (:address b))))
    (node/run-on a
      (fn []
        (let [p (t/spawn-on :tls-b #'h/reply-self (self) :over-tls)]
          (is (= "tls-b" (.-node ^Pid p)))
          (is (= [:hello p :over-tls] (next-msg)))
          (is (#{:waiting :runnable :running} (:status (node/process-info-remote p))))
          (node/monitor-node :tls-b)
          (node/disconnect! :tls-b)
          (is (= [:nodedown :tls-b] (next-msg))))))))

;; A node whose certificate the other does not trust cannot connect, in either
;; direction, nor one that trusts the other but is not trusted back; a node
;; without TLS cannot connect to one with TLS, nor the other way round. Each
;; failure is an ex-info with :tasklet/error and a message that says what to
;; fix; no connection is admitted, and the TLS node still serves its peers.
(deftest untrusted-and-plain-nodes-are-refused
  (with-nodes [a (start :tls-a :tls (tls :cluster))
               b (start :tls-b :tls (tls :cluster))
               m (start :tls-m :tls (tls :stranger))
               half (start :tls-half :tls (tls :stranger :cluster))
               plain (start :tls-plain)]
    (doseq [[from to] [[m a] [a m] [half a] [a half]]]
      (testing (str (:name from) " -> " (:name to))
        (let [[kind msg] (connect-error from (:address to))]
          (is (= :auth-failed kind) msg)
          (is (re-find #"truststore" (str msg)) msg))))
    (testing "without TLS on one side"
      (let [[kind msg] (connect-error plain (:address a))]
        (is (= :not-connected kind))
        (is (re-find #":tls" (str msg)) msg))
      (let [[kind msg] (connect-error a (:address plain))]
        (is (= :not-connected kind))
        (is (re-find #"TLS" (str msg)) msg)))
    (is (= [] (node/run-on a node/nodes)) "nothing was admitted")
    (is (= :tls-b (node/run-on a node/connect! (:address b))))))

;; A :tls that cannot be used is refused with :badarg before the node exists,
;; so the same name can be started right after.
(deftest bad-tls-option
  (doseq [[what bad] [["not a map" "cluster.p12"]
                      ["no truststore" (dissoc (tls :cluster) :truststore)]
                      ["no password" (dissoc (tls :cluster) :keystore-password :truststore-password)]
                      ["no such file" (assoc (tls :cluster) :keystore "/nonexistent/tasklet.p12")]
                      ["wrong password" (assoc (tls :cluster) :keystore-password "wrong"
                                               :truststore-password "wrong")]]]
    (testing what
      (let [e (try (start :tls-bad :tls bad) nil
                   (catch clojure.lang.ExceptionInfo e e))]
        (is (= :badarg (:tasklet/error (ex-data e))))
        (is (re-find #":tls" (str (ex-message e))) (ex-message e)))))
  (with-nodes [a (start :tls-bad :tls (tls :cluster))]
    (is (= :tls-bad (:name a)) "nothing was left behind")))

;; A child JVM of a TLS node starts with the same :tls (given over its stdin)
;; and connects back over TLS; messages, spawn-on, monitors and links cross
;; that connection. A node whose :tls is a Tls object cannot hand it to a
;; child: start-local-nodes! says so.
(deftest child-node-over-tls
  (with-nodes [p (start :tlsp :tls (tls :cluster) :workers 2 :tick-ms 1000)]
    (let [[c] (binding [node/*run-on-timeout-ms* 240000]
                (node/run-on p node/start-local-nodes! 1 {:timeout-ms 180000 :progress false}))]
      (is (= :tlsp-1 c))
      (node/run-on p
        (fn []
          (let [e (t/spawn-on c #'h/echo)
                x {:me (self) :v [1 "two" :three]}]
            (! e [:echo (self) x])
            (is (= [:echoed x] (next-msg)))
            (let [r (t/monitor e)]
              (! e :stop)
              (is (= [:DOWN r :process e :normal] (next-msg)))))
          (t/trap-exit! true)
          (let [q (t/spawn-on c #'h/crash-on)]
            (t/link q)
            (! q [:crash :bad])
            (is (= [:EXIT q :bad] (next-msg))))
          (t/trap-exit! false)))))
  (with-nodes [p (start :tlsq :tls (Tls/fromKeyStores (:cluster *stores*) (.toCharArray ^String s/store-password)
                                                      (:cluster *stores*) (.toCharArray ^String s/store-password)))]
    (let [e (try (node/run-on p node/start-local-nodes! 1) nil
                 (catch clojure.lang.ExceptionInfo e e))]
      (is (= :badarg (:tasklet/error (ex-data e))))
      (is (re-find #"map form" (str (ex-message e)))))))
