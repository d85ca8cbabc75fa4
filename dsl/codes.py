"""Every diagnostic code, defined once: its constant, its title and its severity.

Rules, the parser and the tools name codes through these constants, never as string
literals. `docs/errors.md` has one section per code, headed `## DSCnnn — title`, with the
same severity (`tests/checks/test_errors_doc.py` keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    title: str
    severity: str  # "error" | "warning"


CATALOGUE: dict[str, Code] = {}


def _define(code: str, title: str, severity: str = "error") -> str:
    assert code not in CATALOGUE, code
    CATALOGUE[code] = Code(code, title, severity)
    return code


# DSC001-DSC008: reading the file
SYNTAX_ERROR = _define("DSC001", "syntax error")
UNTERMINATED_STRING = _define("DSC002", "unterminated string")
UNEXPECTED_CHARACTER = _define("DSC003", "unexpected character")
NESTED_TOO_DEEPLY = _define("DSC004", "nested too deeply")
UNREADABLE_FILE = _define("DSC005", "file cannot be read")
NUMBER_TOO_LARGE = _define("DSC006", "number too large")
REPEATED_CLAUSE = _define("DSC007", "clause repeated")
POSITIONAL_AFTER_KEYWORD = _define("DSC008", "positional argument after a keyword argument")

# DSC010-DSC013: contract structure
COMPUTES_NOTHING = _define("DSC010", "contract computes nothing")
RELEASED_TO_NOBODY = _define("DSC011", "result released to nobody")
NO_PROPOSER = _define("DSC012", "contract without proposer")
READS_NO_DATA = _define("DSC013", "contract reads no data")

# DSC020-DSC026: names
UNDEFINED_AGENT = _define("DSC020", "undefined agent")
UNDEFINED_DATA = _define("DSC021", "undefined data element")
UNDEFINED_FUNCTION = _define("DSC022", "undefined function")
UNDEFINED_CONTRACT = _define("DSC023", "undefined contract")
UNDEFINED_NAME = _define("DSC024", "undefined name, or a name that is not a value")
DUPLICATE_NAME = _define("DSC025", "declared more than once")
RESULT_OUTSIDE_ENSURE = _define("DSC026", "`result` outside `ensure`")

# DSC030-DSC039: function modules and call signatures
MODULE_NOT_FOUND = _define("DSC030", "module not found")
MODULE_NOT_PYTHON = _define("DSC031", "module is not valid Python")
HIDES_BUILTIN = _define("DSC032", "user function hides a built-in")
UNKNOWN_KEYWORD = _define("DSC033", "unknown keyword argument")
MISSING_ARGUMENT = _define("DSC034", "missing argument")
TOO_MANY_POSITIONAL = _define("DSC035", "too many positional arguments")
ARGUMENT_TWICE = _define("DSC036", "argument given twice")
POSITIONAL_ONLY_BY_KEYWORD = _define("DSC037", "positional-only parameter passed by keyword")
CODE_OUTSIDE_IDENTITY = _define("DSC038", "module code outside any function's identity")
IMPORTS_LOCAL_MODULE = _define("DSC039", "module imports a local module")

# DSC040-DSC045: types and columns
NOT_A_CONDITION = _define("DSC040", "not a condition")
OPERAND_TYPES = _define("DSC041", "operator applied to the wrong types")
ARGUMENT_TYPE = _define("DSC042", "argument of the wrong type")
FOR_NOT_A_LIST = _define("DSC043", "`for` over something that is not a list")
ATTRIBUTE_OF_NON_AGENT = _define("DSC044", "attribute of something that is not an agent")
UNKNOWN_COLUMN = _define("DSC045", "unknown column")

# DSC050-DSC059: agents, data and policies
RECIPIENT_NOT_AGENT = _define("DSC050", "recipient is not an agent")
OWNER_NOT_AGENT = _define("DSC051", "data owner is not an agent")
PROPOSER_NOT_AGENT = _define("DSC052", "proposer is not an agent")
POLICY_OWNER_NOT_AGENT = _define("DSC053", "policy owner is not an agent")
RULE_ON_OTHERS_DATA = _define("DSC054", "policy rule on another owner's data")
UNKNOWN_FORMAT = _define("DSC055", "unknown data format")
UNKNOWN_COLUMN_TYPE = _define("DSC056", "unknown column type")
DUPLICATE_COLUMN = _define("DSC057", "column declared twice")
MISSING_DATA_FILE = _define("DSC058", "data file does not exist", "warning")
DUPLICATE_RECIPIENT = _define("DSC059", "recipient listed twice", "warning")

# DSC060-DSC064: approvals and data flow
DENIED_BY_POLICY = _define("DSC060", "contract denied by a standing policy")
NEVER_VIOLATED = _define("DSC061", "`never` constraint violated")
GOAL_UNREACHABLE = _define("DSC062", "goal cannot be reached")
KEPT_CYCLE = _define("DSC063", "kept result depends on itself")
POLICY_UNKNOWN_FUNCTION = _define("DSC064", "policy names an unknown function")

# DSC070-DSC072: unused declarations
UNUSED_DATA = _define("DSC070", "unused data element", "warning")
UNUSED_AGENT = _define("DSC071", "unused agent", "warning")
UNUSED_KEPT = _define("DSC072", "unused kept result", "warning")

# DSC080-DSC081: stored data (`dsc data add`)
DATA_SCHEMA_MISMATCH = _define("DSC080", "data does not match its declared schema")
DATA_DUPLICATE_COLUMN = _define("DSC081", "column appears twice in the data")

# DSC098-DSC099: tools
FORMATTER_REFUSED = _define("DSC098", "formatter refused")
INTERNAL_ERROR = _define("DSC099", "internal error")
