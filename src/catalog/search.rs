//! Full-text search over the services of every MPP, on an in-memory tantivy index built from the
//! catalog snapshot. Text is turned into terms by `domain::search_text` (Indonesian stemming,
//! synonyms, abbreviations); tantivy brings BM25 ranking and typo tolerance (edit distance).

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, FuzzyTermQuery,
    Occur, Query, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{TextAnalyzer, WhitespaceTokenizer};
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

use crate::domain::search_text::{analyze, analyze_document, analyze_query};

const TOKENIZER: &str = "terms";
/// Terms of a query beyond this are ignored (no service name needs more).
const MAX_TERMS: usize = 8;
/// Longer terms are matched exactly only: an edit-distance automaton grows with the word.
const MAX_FUZZY_CHARS: usize = 20;
/// Added to the score of a best-bet service: more than any ordinary word match contributes.
const BEST_BET_SCORE: f32 = 100.0;

#[derive(Clone, Copy)]
struct Fields {
    idx: Field,
    name: Field,
    /// Other spellings of the name: abbreviations, long forms, words as written.
    alias: Field,
    body: Field,
    place: Field,
    region: Field,
    mpp: Field,
    agency: Field,
    template: Field,
}

/// What one service contributes to the index.
pub struct IndexedService<'a> {
    pub idx: usize,
    pub name: &'a str,
    pub body: String,
    pub place: String,
    pub regions: [&'a str; 2],
    pub mpp: &'a str,
    pub agency: &'a str,
    /// Slug of the national template the service derives from.
    pub template: Option<&'a str>,
}

pub struct SearchIndex {
    reader: IndexReader,
    fields: Fields,
}

/// Filters narrow the results; the text ranks them.
#[derive(Debug, Default, Clone)]
pub struct SearchRequest<'a> {
    pub text: &'a str,
    /// A province (`35`) or kabupaten/kota (`35.79`) code.
    pub region: Option<&'a str>,
    pub mpp: Option<&'a str>,
    pub agency: Option<&'a str>,
    pub offset: usize,
    pub limit: usize,
}

pub struct SearchResults {
    pub total: usize,
    /// Positions of the services in the catalog, best first.
    pub hits: Vec<usize>,
}

#[derive(Debug, thiserror::Error)]
#[error("search index: {0}")]
pub struct SearchError(#[from] tantivy::TantivyError);

impl SearchIndex {
    pub fn build<'a>(
        services: impl Iterator<Item = IndexedService<'a>>,
    ) -> Result<SearchIndex, SearchError> {
        let mut builder = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let fields = Fields {
            idx: builder.add_u64_field("idx", STORED),
            name: builder.add_text_field("name", text.clone()),
            alias: builder.add_text_field("alias", text.clone()),
            body: builder.add_text_field("body", text.clone()),
            place: builder.add_text_field("place", text),
            region: builder.add_text_field("region", STRING),
            mpp: builder.add_text_field("mpp", STRING),
            agency: builder.add_text_field("agency", STRING),
            template: builder.add_text_field("template", STRING),
        };
        let index = Index::create_in_ram(builder.build());
        index.tokenizers().register(
            TOKENIZER,
            TextAnalyzer::builder(WhitespaceTokenizer::default()).build(),
        );
        let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, 100_000_000)?;
        for s in services {
            let mut doc = TantivyDocument::default();
            doc.add_u64(fields.idx, s.idx as u64);
            let name = analyze_document(s.name);
            doc.add_text(fields.name, name.terms.join(" "));
            doc.add_text(fields.alias, name.extra.join(" "));
            let body = analyze_document(&s.body);
            doc.add_text(
                fields.body,
                body.all().map(String::as_str).collect::<Vec<_>>().join(" "),
            );
            doc.add_text(fields.place, analyze(&s.place).join(" "));
            for region in s.regions {
                doc.add_text(fields.region, region);
            }
            doc.add_text(fields.mpp, s.mpp);
            doc.add_text(fields.agency, s.agency);
            if let Some(template) = s.template {
                doc.add_text(fields.template, template);
            }
            writer.add_document(doc)?;
        }
        writer.commit()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex { reader, fields })
    }

    pub fn search(&self, request: &SearchRequest<'_>) -> Result<SearchResults, SearchError> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let query = analyze_query(request.text);
        // Bounded work per query: at most MAX_TERMS distinct terms.
        let mut terms: Vec<&str> = Vec::new();
        for term in &query.terms {
            if terms.len() < MAX_TERMS && !terms.contains(&term.as_str()) {
                terms.push(term);
            }
        }
        if !terms.is_empty() {
            let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for term in terms {
                let mut alternatives: Vec<Box<dyn Query>> = Vec::new();
                for (field, boost) in [(f.name, 4.0), (f.alias, 3.0), (f.body, 1.0), (f.place, 2.0)]
                {
                    let t = Term::from_field_text(field, term);
                    alternatives.push(Box::new(BoostQuery::new(
                        Box::new(TermQuery::new(t.clone(), IndexRecordOption::WithFreqs)),
                        boost,
                    )));
                    let chars = term.chars().count();
                    if (4..=MAX_FUZZY_CHARS).contains(&chars) && field != f.place {
                        let distance = if chars >= 8 { 2 } else { 1 };
                        alternatives.push(Box::new(BoostQuery::new(
                            Box::new(FuzzyTermQuery::new(t, distance, true)),
                            boost * 0.3,
                        )));
                    }
                }
                should.push((
                    Occur::Should,
                    Box::new(DisjunctionMaxQuery::with_tie_breaker(alternatives, 0.1)),
                ));
            }
            // Best bets match on their own and rank first.
            let mut matching: Vec<(Occur, Box<dyn Query>)> =
                vec![(Occur::Should, Box::new(BooleanQuery::new(should)))];
            for template in &query.best_bets {
                let t = Term::from_field_text(f.template, template);
                matching.push((
                    Occur::Should,
                    Box::new(ConstScoreQuery::new(
                        Box::new(TermQuery::new(t, IndexRecordOption::Basic)),
                        BEST_BET_SCORE,
                    )),
                ));
            }
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(matching))));
        } else {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        for (field, value) in [
            (f.region, request.region),
            (f.mpp, request.mpp),
            (f.agency, request.agency),
        ] {
            if let Some(value) = value {
                clauses.push((
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, value),
                        IndexRecordOption::Basic,
                    )),
                ));
            }
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let limit = request.limit.max(1);
        let (top, total) = searcher.search(
            &query,
            &(
                TopDocs::with_limit(limit)
                    .and_offset(request.offset)
                    .order_by_score(),
                Count,
            ),
        )?;
        let mut hits = Vec::with_capacity(top.len());
        for (_score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let Some(idx) = doc.get_first(f.idx).and_then(|v| v.as_u64()) {
                hits.push(idx as usize);
            }
        }
        Ok(SearchResults { total, hits })
    }
}
