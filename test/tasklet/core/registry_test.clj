(ns tasklet.core.registry-test
  "doc/reference.md §1 registry: register, unregister, whereis, registered, and the
  name's life with its tasklet."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.core :as t :refer [spawn spawn-monitor ! receive self exit monitor
                                        register unregister whereis registered]]
            [tasklet.core.support :as s :refer [recv await-down start-probe]]))

(set! *warn-on-reflection* true)

(use-fixtures :each s/quiet-crashes)

(defn- badarg? [e]
  (and (instance? clojure.lang.ExceptionInfo e) (= :badarg (:tasklet/error (ex-data e)))))

;; register returns true; whereis finds the pid; registered lists the name; ! to the name delivers.
(deftest register-and-look-up
  (let [p (start-probe)]
    (try
      (is (true? (register ::reg-a p)))
      (is (= p (whereis ::reg-a)))
      (is (some #{::reg-a} (registered)))
      (is (= ::reg-a (:registered-name (t/process-info p))))
      (let [tg (s/tag)]
        (! ::reg-a [:ping (self) tg])
        (is (= :pong (recv [:pong tg] :pong))))
      (is (nil? (whereis ::never-registered)))
      (finally (s/kill-and-wait p)))))

;; register throws :badarg when the name is taken by another pid.
(deftest register-badarg-when-name-taken
  (let [p (start-probe)
        q (start-probe)]
    (try
      (register ::taken p)
      (is (badarg? (s/thrown-error (register ::taken q))))
      (is (= p (whereis ::taken)) "the name still names the first pid")
      (is (nil? (:registered-name (t/process-info q))))
      (finally (s/kill-and-wait p) (s/kill-and-wait q)))))

;; register throws :badarg when the pid already has a name.
(deftest register-badarg-when-pid-already-named
  (let [p (start-probe)]
    (try
      (register ::first-name p)
      (is (badarg? (s/thrown-error (register ::second-name p))))
      (is (nil? (whereis ::second-name)))
      (is (= p (whereis ::first-name)))
      (finally (s/kill-and-wait p)))))

;; register throws :badarg when the pid is dead.
(deftest register-badarg-when-pid-dead
  (let [[p ref] (spawn-monitor (fn [] :done))]
    (await-down ref)
    (is (badarg? (s/thrown-error (register ::dead-one p))))
    (is (nil? (whereis ::dead-one)))))

;; The name is freed when its tasklet ends (however it ends), and can then be taken by another.
(deftest name-freed-when-tasklet-ends
  (doseq [how [:normal :crash :killed]]
    (testing (name how)
      (let [p (start-probe)
            ref (monitor p)]
        (register ::mortal p)
        (case how
          :normal (! p [:return :bye])
          :crash (! p [:throw (ex-info "crash" {})])
          :killed (exit p :kill))
        (await-down ref)
        (is (nil? (whereis ::mortal)))
        (is (not (some #{::mortal} (registered))))
        (let [q (start-probe)]
          (is (true? (register ::mortal q)))
          (is (= q (whereis ::mortal)))
          (exit q :kill)
          (is (s/eventually #(nil? (whereis ::mortal)))))))))

;; unregister removes the name and returns true; the pid may then take another name.
(deftest unregister-frees-name
  (let [p (start-probe)]
    (try
      (register ::to-drop p)
      (is (true? (unregister ::to-drop)))
      (is (nil? (whereis ::to-drop)))
      (is (not (some #{::to-drop} (registered))))
      (is (nil? (:registered-name (t/process-info p))))
      (is (= :noproc (:tasklet/error (ex-data (s/thrown-error (! ::to-drop :x))))))
      (is (true? (register ::renamed p)) "the pid is free to take a new name")
      (finally (s/kill-and-wait p)))))

;; A plain thread's pid can be registered, and messages to the name reach it.
(deftest register-plain-thread
  (is (= :hello
         (s/in-thread (fn []
                        (register ::a-thread (self))
                        (spawn (fn [] (! ::a-thread [:msg :hello])))
                        (let [v (receive [:msg x] x (after s/wait-ms :timeout))]
                          (unregister ::a-thread)
                          v))))))
