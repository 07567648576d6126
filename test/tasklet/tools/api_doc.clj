(ns tasklet.tools.api-doc
  "Writes doc/api.md, the API reference generated from the code:

    lein run -m tasklet.tools.api-doc

  Every public namespace under src-clj/tasklet (found from the files, so a new
  namespace appears without editing this one), less tasklet.impl.* and
  namespaces marked ^:no-doc; per namespace its docstring, then each public
  var not marked ^:no-doc, sorted by name: its kind, arglists and docstring.
  The output depends only on the code (no dates, no paths), so
  tasklet.api-doc-test can regenerate it in memory and compare."
  (:require [clojure.java.io :as io]
            [clojure.string :as str])
  (:import (java.io File PushbackReader)))

(set! *warn-on-reflection* true)

(def output "doc/api.md")

(def ^:private regenerate
  "What to run, for messages."
  "lein run -m tasklet.tools.api-doc")

(defn- ns-name-of
  "The name in the ns form that opens file f."
  [^File f]
  (with-open [r (PushbackReader. (io/reader f))]
    (let [form (binding [*read-eval* false] (read {:eof nil} r))]
      (when (and (seq? form) (= 'ns (first form)))
        (second form)))))

(defn namespaces
  "The documented namespaces, sorted: every tasklet.* namespace of
  src-dir except tasklet.impl.* and those marked ^:no-doc."
  ([] (namespaces "src-clj"))
  ([src-dir]
   (->> (file-seq (io/file src-dir "tasklet"))
        (filter (fn [^File f] (and (.isFile f) (re-find #"\.clj[c]?$" (.getName f)))))
        (keep ns-name-of)
        (remove #(str/starts-with? (name %) "tasklet.impl."))
        (remove #(:no-doc (meta %)))
        (map (comp symbol name))            ; drop the reader's metadata from the symbol
        distinct
        sort
        (filter (fn [sym] (require sym) (not (:no-doc (meta (find-ns sym))))))
        vec)))

(defn documented-vars
  "The public vars of namespace sym that are documented, sorted by name."
  [sym]
  (->> (ns-publics sym)
       vals
       (remove #(:no-doc (meta %)))
       (sort-by #(str (:name (meta %))))))

(defn undocumented
  "Documented vars without a docstring, as fully qualified symbols."
  [nss]
  (vec (for [n nss, v (documented-vars n)
             :when (str/blank? (:doc (meta v)))]
         (symbol (str n) (str (:name (meta v)))))))

(defn- dedent
  "A docstring without the indentation its continuation lines share."
  [^String s]
  (let [[first-line & more] (str/split-lines (str/trimr s))
        indents (keep #(when-not (str/blank? %) (count (re-find #"^ *" %))) more)
        cut (if (seq indents) (apply min indents) 0)]
    (str/join "\n" (cons (str/trim first-line)
                         (map #(if (str/blank? %) "" (subs % (min cut (count %)))) more)))))

(defn- fence
  "A code fence longer than any run of backquotes in s."
  [s]
  (let [longest (reduce max 0 (map count (re-seq #"`+" s)))]
    (apply str (repeat (max 3 (inc longest)) \`))))

(defn- block [lang s]
  (let [f (fence s)] (str f lang "\n" s "\n" f "\n")))

(defn- anchor
  "GitHub's anchor for a heading text."
  [text]
  (-> (str/lower-case text)
      (str/replace #"[^\p{L}\p{N} _-]" "")
      (str/replace " " "-")))

(defn- kind [v]
  (let [m (meta v)]
    (cond (:macro m) "macro"
          (:dynamic m) "dynamic var"
          (or (:arglists m) (fn? @v)) "function"
          :else "var")))

(defn- var-anchor
  "An explicit anchor per var: heading anchors would collide (spawn-on is in
  two namespaces, `!` has none)."
  [v]
  (let [{:keys [ns name]} (meta v)] (str (ns-name ns) "/" name)))

(defn- var-section [v]
  (let [{:keys [name arglists doc]} (meta v)
        usage (str/join "\n" (for [a arglists] (pr-str (apply list name a))))]
    (str "<a name=\"" (var-anchor v) "\"></a>\n\n"
         "### `" name "`\n\n"
         "*" (kind v) "*\n\n"
         (when (seq arglists) (block "clojure" usage))
         (when (seq arglists) "\n")
         (if (str/blank? doc) "**No docstring.**\n" (block "" (dedent doc)))
         "\n")))

(defn- ns-section [sym]
  (let [vars (documented-vars sym)]
    (str "## " sym "\n\n"
         (block "" (dedent (or (:doc (meta (find-ns sym))) "No namespace docstring.")))
         "\n"
         (str/join " · " (for [v vars] (str "[`" (:name (meta v)) "`](#" (var-anchor v) ")")))
         "\n\n"
         (apply str (map var-section vars)))))

(defn render
  "The text of doc/api.md for the documented namespaces nss."
  [nss]
  (str "# tasklet API\n\n"
       "Generated from the namespaces' docstrings by `" regenerate "`; do not edit by hand\n"
       "(`tasklet.api-doc-test` fails when this file is not current). The contract, with\n"
       "examples, is [reference.md](reference.md).\n\n"
       (str/join "\n" (for [n nss] (str "- [" n "](#" (anchor (str n)) ")")))
       "\n\n"
       (str/join "\n" (map ns-section nss))))

(defn -main
  "Writes doc/api.md; fails (exit 1) naming the public vars that have no
  docstring."
  [& _]
  (let [nss (namespaces)
        missing (undocumented nss)]
    (spit output (render nss))
    (println "wrote" output "for" (count nss) "namespaces:" (str/join " " nss))
    (when (seq missing)
      (binding [*out* *err*]
        (println "public vars without a docstring (add one, or mark ^:no-doc):" (str/join " " missing)))
      (shutdown-agents)
      (System/exit 1))
    (shutdown-agents)))
