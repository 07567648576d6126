(ns ^:no-doc tasklet.impl.receive
  "Compile-time support for tasklet.core/receive: clause parsing and
  validation, and the matcher that the kernel's Mailbox calls per message."
  (:require [clojure.core.match]))

(set! *warn-on-reflection* true)

(defn- syntax-error [form msg]
  (let [{:keys [line column]} (meta form)]
    (ex-info (str "receive: " msg (when line (str " (line " line ", column " column ")")))
             {:tasklet/error :badarg :form form})))

(defn- after-clause? [x]
  (and (seq? x) (= 'after (first x))))

(defn parse
  "Splits receive's clauses into [[pattern body] ...] and the after clause
  (nil or [ms-form body-forms]). Throws at macro-expansion time on an odd
  number of forms, an `after` that is not last, or a literal timeout that is
  neither a non-negative number, nil nor :infinity."
  [form clauses]
  (let [[clauses after] (if (after-clause? (last clauses))
                          [(butlast clauses) (last clauses)]
                          [clauses nil])]
    (when (some after-clause? clauses)
      (throw (syntax-error form "(after ms body...) must be the last clause")))
    (when (odd? (count clauses))
      (throw (syntax-error form (str "clauses must be pattern/body pairs, got " (count clauses)
                                     " forms; add the missing body or pattern"))))
    (when after
      (when (< (count after) 2)
        (throw (syntax-error form "(after ms body...) needs a timeout in ms")))
      (let [ms (second after)]
        (when-not (or (nil? ms) (= :infinity ms) (and (number? ms) (not (neg? ms)))
                      (symbol? ms) (seq? ms))
          (throw (syntax-error form (str "after's timeout must be milliseconds (a non-negative number),"
                                         " nil or :infinity, not " (pr-str ms)))))))
    [(partition 2 clauses) (when after [(second after) (drop 2 after)])]))

(defn pattern-locals
  "The symbols a core.match pattern binds, in order, given the symbols already
  in scope (`env`), which core.match matches by value instead of binding."
  [pat env]
  (letfn [(walk [p]
            (cond
              (symbol? p) (if (or (= '_ p) (= '& p) (namespace p) (contains? env p)) [] [p])
              (vector? p) (mapcat walk p)
              (map? p) (mapcat walk (vals p))
              (seq? p) (let [[f s t] p]
                         (cond
                           (= 'quote f) []
                           (= :or f) (distinct (mapcat walk (rest p)))
                           (= :as s) (concat (walk f) (walk t))
                           (keyword? s) (walk f)
                           :else []))
              :else []))]
    (vec (distinct (walk pat)))))

(defn- value-clause
  "The index of the receive's bare-value clause: the first clause whose
  pattern binds exactly one local (its matcher returns that value itself), or
  nil when no clause does."
  [clauses env]
  (first (keep-indexed (fn [i [pat _]] (when (= 1 (count (pattern-locals pat env))) i)) clauses)))

(defn- result-form
  "What the matcher returns when clause i matched with these locals bound
  (see tasklet.kernel.Matched): a shared tag when it binds nothing, the value
  itself for the bare-value clause, else a Matched carrying the values."
  [i locals value-i]
  (cond
    (empty? locals) `(tasklet.kernel.Matched/tag ~i)
    (= i value-i) `(tasklet.kernel.Matched/value ~i ~(first locals))
    :else (let [a (gensym "values")]
            `(let [~a (object-array ~(count locals))]
               ~@(map-indexed (fn [j sym] `(aset ~a ~j ~sym)) locals)
               (tasklet.kernel.Matched. ~i ~a)))))

(defn matcher-form
  "A (fn [msg] ...) that returns, for the first clause whose pattern matches
  msg, what result-form says (non-nil), else nil. Each clause is matched in
  its own try, so a guard that throws only fails that clause."
  [clauses env]
  (let [msg (gensym "msg")
        value-i (value-clause clauses env)]
    `(fn [~msg]
       (or ~@(map-indexed
               (fn [i [pat _]]
                 (let [locals (pattern-locals pat env)]
                   `(try
                      (clojure.core.match/match [~msg] [~pat] ~(result-form i locals value-i) :else nil)
                      (catch Throwable _# nil))))
               clauses)))))

(defn closes-over?
  "Whether the clauses' patterns (guards included) name a local in scope, so
  that their matcher is a closure; a conservative look at every symbol."
  [clauses env]
  (boolean (some #(and (symbol? %) (contains? env %))
                 (tree-seq coll? seq (map first clauses)))))

(defn bind-matcher!
  "Give var v its matcher f, the first time a hoisted receive runs (a race
  binds an equivalent one: a matcher that closes over nothing is stateless)."
  [^clojure.lang.Var v f]
  (.bindRoot v f)
  f)

(defn hoisted-form
  "matcher-form's fn made once and kept in a private var of the namespace
  being compiled (interned now; RT.var makes it again when AOT-compiled code
  loads), for a matcher that closes over nothing. Why: a fn expression is a
  new object each time it is evaluated (Clojure does not hoist one without
  closed-overs), so every receive allocated its matcher, and a waiting
  tasklet kept it alive across its wait (16 bytes each; doc/adr/0008)."
  [matcher]
  (let [sym (gensym "receive-matcher__")
        _ (intern *ns* (with-meta sym {:private true :no-doc true}))
        v (gensym "matchers")]
    `(let [~(with-meta v {:tag 'clojure.lang.Var}) (var ~(symbol (str (ns-name *ns*)) (name sym)))]
       (if (.hasRoot ~v) (.getRawRoot ~v) (tasklet.impl.receive/bind-matcher! ~v ~matcher)))))

(defn body-form
  "Dispatch on the matcher's result (a Matched, or the bare-value clause's
  value): bind the clause's locals and run its body, each body once and in
  tail position (so `recur` reaches an enclosing loop or fn)."
  [result clauses env]
  (let [value-i (value-clause clauses env)
        wrapped (gensym "wrapped")]
    `(let [~wrapped (instance? tasklet.kernel.Matched ~result)]
       (case ~(if value-i
                `(if ~wrapped (.-clause ~(with-meta result {:tag 'tasklet.kernel.Matched})) (int ~value-i))
                `(.-clause ~(with-meta result {:tag 'tasklet.kernel.Matched})))
         ~@(mapcat (fn [i [pat body]]
                     (let [locals (pattern-locals pat env)
                           values `(.-values ~(with-meta result {:tag 'tasklet.kernel.Matched}))]
                       [i `(let [~@(if (= i value-i)
                                     [(first locals) `(if ~wrapped (aget ~values 0) ~result)]
                                     (mapcat (fn [j sym] [sym `(aget ~values ~j)]) (range) locals))]
                             ~body)]))
                   (range) clauses)))))
