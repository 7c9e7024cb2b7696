/**
 * The SQS *query* protocol (form-encoded `Action=SendMessage&QueueUrl=…`, XML answers) in
 * front of an emulator that speaks only the SQS JSON protocol. Debian's awscli (2.9) still
 * talks query to SQS, and fauxqs hands every form-encoded request to its SNS handler
 * ("Unknown action: SendMessage"), so the local proxy turns such a request into the JSON
 * request (`X-Amz-Target: AmazonSQS.<Action>`) and the JSON answer back into query XML.
 *
 * Wire shapes follow the SQS 2012-11-05 query model: flattened lists (`AttributeName.1`),
 * flattened Name/Value maps (`Attribute.1.Name`, `MessageAttribute.1.Value.StringValue`),
 * batch entries (`SendMessageBatchRequestEntry.1.Id`).
 */

export const SQS_QUERY_VERSION = "2012-11-05";
const XMLNS = `http://queue.amazonaws.com/doc/${SQS_QUERY_VERSION}/`;

/** SQS actions the emulator implements (all of them have distinct names from SNS's). */
export const SQS_ACTIONS: ReadonlySet<string> = new Set([
  "CreateQueue", "DeleteQueue", "GetQueueUrl", "ListQueues", "GetQueueAttributes", "SetQueueAttributes",
  "PurgeQueue", "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
  "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "TagQueue", "UntagQueue", "ListQueueTags",
]);

/** The service in a SigV4 `Authorization` header's credential scope (`…/eu-west-1/sqs/aws4_request`). */
export function signedService(authorization: string | undefined): string | undefined {
  return /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(authorization ?? "")?.[1];
}

/** Whether a form-encoded request is meant for SQS (rather than SNS or STS, which share the content type). */
export function isSqsQuery(params: URLSearchParams, authorization: string | undefined): boolean {
  const service = signedService(authorization);
  if (service) return service === "sqs";
  if (params.get("Version") === SQS_QUERY_VERSION) return true;
  return SQS_ACTIONS.has(params.get("Action") ?? "");
}

type Tree = { [key: string]: Tree | string };

/** query list name -> JSON member name */
const LISTS: Record<string, string> = {
  AttributeName: "AttributeNames",
  MessageAttributeName: "MessageAttributeNames",
  MessageSystemAttributeName: "MessageSystemAttributeNames",
  TagKey: "TagKeys",
  SendMessageBatchRequestEntry: "Entries",
  DeleteMessageBatchRequestEntry: "Entries",
  ChangeMessageVisibilityBatchRequestEntry: "Entries",
};
/** query map name -> [JSON member name, key field, value field] */
const MAPS: Record<string, [string, string, string]> = {
  Attribute: ["Attributes", "Name", "Value"],
  MessageAttribute: ["MessageAttributes", "Name", "Value"],
  MessageSystemAttribute: ["MessageSystemAttributes", "Name", "Value"],
  Tag: ["Tags", "Key", "Value"],
};
const INTEGERS = new Set(["DelaySeconds", "MaxNumberOfMessages", "VisibilityTimeout", "WaitTimeSeconds", "MaxResults"]);
const LIST_MEMBERS = new Set(["StringListValue", "BinaryListValue"]);

/** Numbered children of a node in index order (`.1`, `.2`, … — gaps allowed). */
function numbered(node: Tree | string): (Tree | string)[] {
  if (typeof node === "string") return [node];
  return Object.keys(node).filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b)).map((k) => node[k]!);
}

function convertObject(node: Tree): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(node)) {
    if (LISTS[key]) out[LISTS[key]] = numbered(child).map((c) => (typeof c === "string" ? c : convertObject(c)));
    else if (MAPS[key]) {
      const [name, k, v] = MAPS[key];
      const map: Record<string, unknown> = {};
      for (const entry of numbered(child)) {
        if (typeof entry === "string") continue;
        const mapKey = entry[k];
        const value = entry[v];
        if (typeof mapKey !== "string" || value === undefined) continue;
        map[mapKey] = typeof value === "string" ? value : convertObject(value);
      }
      out[name] = map;
    } else if (LIST_MEMBERS.has(key)) out[`${key}s`] = numbered(child);
    else if (typeof child === "string") out[key] = INTEGERS.has(key) && /^-?\d+$/.test(child) ? Number(child) : child;
    else out[key] = convertObject(child);
  }
  return out;
}

/** A form-encoded SQS request as its action and JSON-protocol input. */
export function queryToJson(params: URLSearchParams): { action: string; input: Record<string, unknown> } {
  const root: Tree = {};
  for (const [key, value] of params) {
    if (key === "Action" || key === "Version") continue;
    const path = key.split(".");
    let node = root;
    for (let i = 0; i < path.length - 1; i++) {
      const next = node[path[i]!];
      if (typeof next === "object") node = next;
      else node = node[path[i]!] = {};
    }
    node[path[path.length - 1]!] = value;
  }
  const action = params.get("Action") ?? "";
  const input = convertObject(root);
  // CreateQueue's tags member is lower-case in the JSON model (TagQueue's is `Tags`)
  if (action === "CreateQueue" && input.Tags) {
    input.tags = input.Tags;
    delete input.Tags;
  }
  return { action, input };
}

const escapeXml = (s: string): string =>
  s.replace(/[&<>"'\r]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "\r": "&#13;" })[c]!);

/** JSON list member -> repeated XML element name (`null`: batch result entry, named after the action) */
const LIST_ELEMENTS: Record<string, string | null> = {
  QueueUrls: "QueueUrl",
  queueUrls: "QueueUrl",
  Messages: "Message",
  Successful: null,
  Failed: "BatchResultErrorEntry",
};
/** JSON map member -> [repeated element, key element, value element] */
const MAP_ELEMENTS: Record<string, [string, string, string]> = {
  Attributes: ["Attribute", "Name", "Value"],
  MessageAttributes: ["MessageAttribute", "Name", "Value"],
  Tags: ["Tag", "Key", "Value"],
};

function toXml(name: string, value: unknown, action: string): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) {
    const listed = LIST_ELEMENTS[name];
    const element = listed === null ? `${action}ResultEntry` : (listed ?? name.replace(/s$/, ""));
    return value.map((v) => toXml(element, v, action)).join("");
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    const mapped = MAP_ELEMENTS[name];
    if (mapped) {
      const [element, k, v] = mapped;
      return entries.map(([key, val]) => `<${element}><${k}>${escapeXml(key)}</${k}>${toXml(v, val, action)}</${element}>`).join("");
    }
    const inner = entries.map(([k, v]) => {
      // StringListValues -> repeated StringListValue
      if (LIST_MEMBERS.has(k.replace(/s$/, "")) && Array.isArray(v)) return v.map((x) => toXml(k.replace(/s$/, ""), x, action)).join("");
      return toXml(k, v, action);
    }).join("");
    return `<${name}>${inner}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** The query-protocol XML answer for a successful JSON-protocol output. */
export function queryResponseXml(action: string, output: unknown, requestId: string): string {
  const fields = output && typeof output === "object" ? Object.entries(output as Record<string, unknown>).filter(([, v]) => v !== undefined && v !== null) : [];
  const result = fields.length ? `<${action}Result>${fields.map(([k, v]) => toXml(k, v, action)).join("")}</${action}Result>` : "";
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${XMLNS}">${result}` +
    `<ResponseMetadata><RequestId>${escapeXml(requestId)}</RequestId></ResponseMetadata></${action}Response>`;
}

/**
 * The query-protocol XML error for a JSON-protocol error answer. The legacy query error code
 * comes from the `x-amzn-query-error: Code;Fault` header when present (e.g.
 * `AWS.SimpleQueueService.NonExistentQueue;Sender`), else from the JSON `__type`.
 */
export function queryErrorXml(status: number, body: string, queryErrorHeader: string | undefined, requestId: string): string {
  let parsed: Record<string, unknown> = {};
  try {
    const p = JSON.parse(body);
    if (p && typeof p === "object") parsed = p;
  } catch { /* not JSON: keep the text as the message */ }
  const [headerCode, headerFault] = (queryErrorHeader ?? "").split(";");
  const jsonType = typeof parsed.__type === "string" ? parsed.__type.split("#").pop() : undefined;
  const code = headerCode || jsonType || (status >= 500 ? "InternalFailure" : "InvalidRequest");
  const fault = headerFault || (status >= 500 ? "Receiver" : "Sender");
  const message = String(parsed.message ?? parsed.Message ?? (body || `HTTP ${status}`));
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${XMLNS}"><Error><Type>${escapeXml(fault)}</Type>` +
    `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message><Detail/></Error>` +
    `<RequestId>${escapeXml(requestId)}</RequestId></ErrorResponse>`;
}
