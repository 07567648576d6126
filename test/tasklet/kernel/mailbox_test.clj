(ns tasklet.kernel.mailbox-test
  "The Mailbox on its own, from one thread: selective scans, marks, holes."
  (:require [clojure.test :refer [deftest is]])
  (:import [tasklet.kernel Mailbox]))

(set! *warn-on-reflection* true)

(defn- reply-matcher [m] (when (= :reply (first m)) m))

;; A mark skips the backlog: a marked scan sees only what came after the mark.
(deftest marked-scan-skips-the-backlog
  (let [mb (Mailbox.)]
    (dotimes [i 3] (.put mb [:reply :old i]))
    (.mark mb)
    (.put mb [:reply :new])
    (is (= [:reply :new] (.scan mb reply-matcher)))
    (is (= 3 (.size mb)) "the backlog is untouched")
    (.endScan mb)
    (is (= [:reply :old 0] (.scan mb reply-matcher)) "a plain scan starts at the oldest")))

;; A stream of marked calls over a backlog leaves no trail of holes behind
;; (each matched reply is the tail when taken, so it becomes a hole first).
(deftest marked-calls-leave-no-holes
  (let [mb (Mailbox.)]
    (dotimes [i 10] (.put mb [:backlog i]))
    (dotimes [i 10000]
      (.mark mb)
      (.put mb [:reply i])
      (is (= [:reply i] (.scan mb reply-matcher))))
    (is (= 10 (.size mb)))
    (is (<= (.linkedNodes mb) 12) "at most the last hole is left")))

;; Per-producer FIFO through selective scans that skip some messages.
(deftest skipped-messages-keep-their-order
  (let [mb (Mailbox.)]
    (doseq [m [[:a 1] [:b 1] [:a 2] [:b 2] [:a 3]]] (.put mb m))
    (is (= [:b 1] (.scan mb (fn [m] (when (= :b (first m)) m)))))
    (.endScan mb)
    (is (= [[:a 1] [:a 2] [:b 2] [:a 3]] (vec (.snapshot mb))))))

;; poll takes the oldest message, nil messages included, and nil when empty.
(deftest poll-takes-oldest-first
  (let [mb (Mailbox.)]
    (.put mb :a) (.put mb nil) (.put mb :c)
    (is (= [:a nil :c] [(.poll mb) (.poll mb) (.poll mb)]))
    (is (= 0 (.size mb)))
    (is (nil? (.poll mb)))))

(defn- first-link
  "The node after the mailbox's own embedded stub: what the mailbox object
  itself keeps reachable, whatever its head is now."
  [^Mailbox mb]
  (let [f (.getDeclaredField (Class/forName "tasklet.kernel.MailLink") "next")]
    (.setAccessible f true)
    (.get f mb)))

;; A mailbox is its own first stub and lives as long as its tasklet. Once the
;; head has moved on, it must not keep the chain of consumed nodes reachable
;; (it did: a long-lived tasklet retained a node per message it ever received).
(deftest consumed-nodes-are-not-retained
  (let [mb (Mailbox.)]
    (is (nil? (first-link mb)) "empty: nothing linked")
    (dotimes [i 3] (.put mb [:m i]))
    (is (some? (first-link mb)) "the first message hangs off the embedded stub")
    (is (= [:m 0] (.poll mb)))
    (is (nil? (first-link mb)) "taking the first message lets go of the chain")
    (.put mb [:reply 1])
    (is (= [:reply 1] (.scan mb reply-matcher)) "a selective take further on")
    (is (= [[:m 1] [:m 2]] (vec (.snapshot mb))))
    (is (nil? (first-link mb)))))

;; A hole that becomes the stub also releases the chain behind the embedded stub.
(deftest hole-becoming-stub-releases-chain
  (let [mb (Mailbox.)]
    (.put mb [:keep])
    (.put mb [:reply 0])
    (is (= [:reply 0] (.scan mb reply-matcher)) "taken from the tail: a hole")
    (.put mb [:later])
    (is (= [:keep] (.poll mb)))
    (is (= [:later] (.poll mb)) "the scan passes the hole and makes it the stub")
    (is (nil? (first-link mb)))
    (is (zero? (.size mb)))))
