// Every GraphQL document the pages send, in one place: tests/web/test_documents.py loads this
// module with Node and validates each document against schema.graphql, and fails when a page
// writes a document anywhere else. Shared selections are named once below.

/** A tag as the review cards show it. */
const TAG = `attribute slot value label tier state probability headVersion family reviewed needsReview
  disagreement decidedBy proposedValue proposedProbability proposedHeadVersion`;
/** An asset as a review card shows it. */
const CARD_ASSET = "id revision sku brand collection thumbnail { dataUrl }";
/** An asset as a search result shows it. */
const RESULT_ASSET = "id sku brand collection season seasonYear thumbnail { dataUrl } tags { attribute value label state }";
/** What a single decision answers. */
const DECISION = `__typename
  ... on TagDecision { revision event { eventId kind fromValue toValue } }
  ... on Conflict { message currentRevision }
  ... on NotFound { message } ... on InvalidInput { message field }
  ... on Forbidden { message } ... on Unauthenticated { message }`;
/** A reviewer's effort (or everyone's) as the quality page tabulates it. */
const EFFORT = "reviewer decisions timedDecisions activeHours decisionsPerHour medianSecondsPerDecision";
/** What a bulk decision's refusal as a whole answers. */
const REFUSED = "... on InvalidInput { message } ... on Forbidden { message } ... on Unauthenticated { message }";

export const WHO = "query Who { whoami { name role } }";

export const TAXONOMY = `query Taxonomy { taxonomy { version attributes { name label
  values { id label path depth hex family synonyms } } } }`;

export const BRAND_TAXONOMY = `query BrandTaxonomy($brand: String!) { taxonomy(brand: $brand) { version
  attributes { name label values { id label path depth hex family synonyms } } } }`;

export const HEX = "query Hex { taxonomy { attributes { name values { id hex } } } }";

function reviewQueue(tags) {
  return `query Queue($filter: AssetFilterInput, $attributes: [String!], $first: Int!, $after: String,
    $order: ReviewOrder!, $reason: ReviewReason!) {
  reviewQueue(filter: $filter, attributes: $attributes, first: $first, after: $after, order: $order, reason: $reason) {
    __typename
    ... on ReviewQueue { totalCount pageInfo { hasNextPage endCursor }
      items { asset { ${CARD_ASSET} } tags: ${tags} { ${TAG} } } }
    ... on InvalidInput { message field }
  }
}`;
}

/** The review queue by mode: an item's pending tags, or (DISAGREEMENT) its disagreements. */
export const REVIEW_QUEUE = {
  PENDING: reviewQueue("pendingTags"),
  HOLDOUT: reviewQueue("pendingTags"),
  DISAGREEMENT: reviewQueue("disagreements"),
};

export const AUDIT_QUEUE = `query Audit($round: String!, $attribute: String, $attributes: [String!], $first: Int!) {
  auditQueue(round: $round, attribute: $attribute, first: $first) {
    __typename
    ... on AuditQueue { items { auditId attribute value tier stratum weight revision
      asset { ${CARD_ASSET} tags(attributes: $attributes) { ${TAG} } } } }
    ... on InvalidInput { message field }
  }
}`;

/** One decision, by kind. */
export const DECIDE = {
  confirmed: `mutation Confirm($input: TagDecisionInput!) { result: confirmTag(input: $input) { ${DECISION} } }`,
  rejected: `mutation Reject($input: TagDecisionInput!) { result: rejectTag(input: $input) { ${DECISION} } }`,
  corrected: `mutation Correct($input: TagCorrectionInput!) { result: correctTag(input: $input) { ${DECISION} } }`,
};

function decideMany(field) {
  return `mutation Bulk($input: BulkTagDecisionInput!) { result: ${field}(input: $input) { __typename
    ... on BulkTagDecision { succeeded failed items { assetId result { ${DECISION} } } }
    ${REFUSED} } }`;
}

/** A decision on several assets at once, by kind. */
export const DECIDE_MANY = {
  confirmed: decideMany("confirmTags"),
  rejected: decideMany("rejectTags"),
  corrected: decideMany("correctTags"),
};

export const REOPEN = `mutation Reopen($input: BulkTagDecisionInput!, $attribute: String!) {
  result: reopenTags(input: $input) { __typename
    ... on BulkTagDecision { items { assetId result { __typename
      ... on TagDecision { revision asset { tags(attributes: [$attribute]) { ${TAG} } } }
      ... on Conflict { message } ... on NotFound { message } ... on InvalidInput { message }
      ... on Forbidden { message } ... on Unauthenticated { message } } } }
    ${REFUSED} } }`;

export const HEAD_VERSIONS = `query Heads { searchAssets(first: 1, includeSuggested: true,
  facets: [{ tagState: HEAD_VERSION, size: 50 }]) { ... on AssetSearch { facets { values { value count } } } } }`;

export const RELOAD = `query Reload($id: ID!, $attribute: String!, $slot: String) { asset(id: $id) { __typename
  ... on Asset { id revision tag(attribute: $attribute, slot: $slot) { ${TAG} } } } }`;

/** An asset in full as review by asset shows it: reloaded after a conflict. */
export const ASSET_TAGS = `query AssetTags($id: ID!, $attributes: [String!]) { asset(id: $id) { __typename
  ... on Asset { ${CARD_ASSET} tags(attributes: $attributes) { ${TAG} } } } }`;

export const EXPLAIN = `query Why($id: ID!, $attribute: String!) {
  explainTag(assetId: $id, attribute: $attribute) {
    __typename
    ... on TagExplanation {
      current { value label state tier probability source decidedBy proposedValue proposedHeadVersion }
      decision { actorType rawLabel topK { label score } ruleId tierReason thresholds { high medium cap }
                 modelFingerprint headVersion analyser taxonomyVersion probability }
      colourEvidence { foregroundShare findings { name label family hex measuredHex coverage deltaE
                       alternatives { name deltaE } } }
      history { kind at actorId fromValue toValue note state }
      head { version kind champion }
      exemplars(k: 4) { score tag { value label state } asset { id sku thumbnail { dataUrl } } }
    }
    ... on NotFound { message }
    ... on InvalidInput { message }
  }
}`;

export const SEARCH = `query Search($filter: AssetFilterInput, $text: String, $facets: [FacetRequest!],
    $first: Int!, $after: String, $suggested: Boolean!) {
  searchAssets(filter: $filter, text: $text, facets: $facets, first: $first, after: $after,
               includeSuggested: $suggested) {
    __typename
    ... on AssetSearch { totalCount textMode pageInfo { hasNextPage endCursor }
      edges { node { ${RESULT_ASSET} } }
      facets { kind name values { value label count selected } } }
    ... on InvalidInput { message field }
  }
}`;

export const SIMILAR = `query Similar($by: SimilarBy!, $k: Int!) {
  similarAssets(by: $by, k: $k) {
    __typename
    ... on SimilarAssets { hits { score asset { ${RESULT_ASSET} } } }
    ... on NotFound { message } ... on InvalidInput { message field }
  }
}`;

export const QUALITY_REPORT = `query Quality($attribute: String, $segment: QualitySegment, $since: DateTime,
    $until: DateTime) {
  qualityReport(attribute: $attribute, segment: $segment, since: $since, until: $until) {
    __typename
    ... on QualityReport { since until attributes { attribute
      tiersByDay { day autoApplied flagged suggested total }
      reliability { n ece bins { lo hi n right meanConfidence observedRate } }
      corrections { dimension segment decided corrected rate low high }
      audits { week tier answered correct precision low high } }
      markers { at kind attribute version label }
      effort { overall { ${EFFORT} } reviewers { ${EFFORT} } fullyReviewedAssets medianSecondsPerAsset } }
    ... on InvalidInput { message field }
  }
}`;

/** The newest head events (trainings, verdicts, promotions), of one attribute or all. */
export const HEAD_EVENTS = `query HeadHistory($attribute: String, $first: Int!) {
  headEvents(attribute: $attribute, first: $first) {
    __typename
    ... on HeadEventsPage { events { at attribute step actor version champion reasons explanation } }
    ... on InvalidInput { message field }
  }
}`;
