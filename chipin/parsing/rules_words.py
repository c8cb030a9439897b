"""Vocabulary of the rules parser: categories, payment methods, and the words that mark a message
as a record, a plan, a question or an opinion. Kept apart so the rules read as rules."""

from __future__ import annotations

import re


def words(text: str) -> frozenset[str]:
    """A set of whitespace-separated words (keeps long vocabularies readable)."""
    return frozenset(text.split())


# Keyword (folded, singular or plural) -> category. The category names are the ones budgets
# and spending reports use.
_CATEGORIES = {
    "food": """dinner dinners lunch lunches breakfast brunch food meal meals pizza pizzas sushi
        burger burgers tacos taco takeout takeaway restaurant restaurants curry kebab noodles
        ramen bbq barbecue snacks snack dessert icecream cafe coffee coffees bakery bagels
        doordash deliveroo ubereats swiggy zomato ifood rappi nandos mcdonalds kfc chinese thai
        indian dining eating churrasco açaí acai pastel feijoada biryani dosa chai pho""",
    "groceries": """groceries grocery supermarket costco tesco lidl aldi walmart sainsburys
        asda carrefour market bigbasket blinkit mercado shopping-list produce""",
    "drinks": """drinks drink beers beer wine wines cocktails cocktail bar pub shots booze
        vodka whisky whiskey rum gin tequila caipirinhas caipirinha sake prosecco champagne""",
    "transport": """uber lyft bolt ola taxi taxis cab cabs bus train trains metro subway
        tube gas fuel petrol diesel parking toll tolls ferry rickshaw auto tuk-tuk scooter
        carpool car rental ride rides""",
    "travel": """flight flights plane airfare trip tour tours visa excursion""",
    "lodging": """airbnb hotel hotels hostel cabin villa accommodation lodging room booking
        chalet motel""",
    "rent": """rent deposit""",
    "utilities": """electricity electric power water internet wifi broadband bill bills utilities
        heating phone hydro""",
    "entertainment": """tickets ticket movie movies cinema concert show shows netflix spotify
        museum game games bowling karaoke club festival party gig theatre theater""",
    "household": """cleaning cleaner toilet supplies detergent furniture household repairs""",
    "gifts": """gift gifts present presents flowers""",
}
CATEGORY_OF: dict[str, str] = {
    word: category for category, words in _CATEGORIES.items() for word in words.split()
}
CATEGORY_NAMES = frozenset(_CATEGORIES) | {"other"}

METHODS = {
    "venmo": "venmo", "venmoed": "venmo", "venmo'd": "venmo", "pix": "pix", "pixed": "pix",
    "pix'd": "pix", "upi": "upi", "upi'd": "upi", "gpay": "upi", "phonepe": "upi", "paytm": "upi",
    "paypal": "paypal", "paypaled": "paypal", "paypal'd": "paypal", "paypalled": "paypal",
    "zelle": "zelle", "zelled": "zelle", "zelle'd": "zelle", "revolut": "revolut",
    "revoluted": "revolut", "cash": "cash", "cashapp": "cashapp", "cashapped": "cashapp",
    "wise": "bank", "transfer": "bank", "transferred": "bank", "wired": "bank", "bank": "bank",
    "e-transfer": "bank", "e-transferred": "bank", "interac": "bank", "bizum": "bizum",
    "mbway": "mbway", "swish": "swish", "vipps": "vipps", "mobilepay": "mobilepay",
    "twint": "twint", "twinted": "twint", "satispay": "satispay", "lydia": "lydia",
    "monzo": "monzo", "paypay": "paypay", "payid": "bank",
}  # fmt: skip

# Verbs of money moving from one member to another (a payment when a person follows).
PAY_VERBS = (
    r"(?:paid|payed|pd|sent|gave|transferred|transfered|venmoed|venmo'd|venmo|zelled|zelle'd"
    r"|paypaled|paypal'd|paypalled|repaid|reimbursed|wired|e-transferred|etransferred|pixed"
    r"|pix'd|upi'd|gpayed|gpay'd|cashapped|revoluted|returned|handed|slipped|settled|squared"
    # payment apps used as verbs: "twinted", "bizum'd", "swished", "satispayed"
    r"|(?:twint|bizum|swish|vipps|mobilepay|satispay|lydia|monzo|paypay|mbway|interac|wise"
    r"|phonepe|paytm)(?:'d|ed|'ed))"
)
# Verbs of paying for something for the group (an expense).
PAYER_VERBS = (
    r"(?:paid|payed|pd|got|covered|bought|picked|grabbed|spent|fronted|put|ordered|booked"
    r"|handled|took|forked|footed|sprang|splurged|purchased|reserved|rented|filled"
    r"|topped|charged|dropped|chipped|paying|pays|pay|shelled|coughed|splashed)"
    # not "shouted": in Australia and Britain a shout is a treat ("Olivia shouted us brunch")
)
# People who are not members and pay for things ("mom paid 60") -> not our ledger.
OUTSIDERS = words(
    """mom mum dad mother father parents boss work company office someone somebody he she they
    it grandma grandpa uncle aunt friend friends bro sis landlord neighbour neighbor insurance
    employer client"""
)

_QUESTION_START = re.compile(
    r"^(?:how|what|what's|whats|who|whom|who's|why|when|where|which|should|shall|can|could"
    r"|would|will|do|does|did|is|are|was|were|may|might|anyone|anybody|has|have|isn't|aren't"
    r"|didn't|don't|any)\b"
)
FUTURE = re.compile(
    r"\b(?:will|gonna|going\s+to|gotta|planning|plan\s+to|want\s+to|wants?|wanna|need\s+to|needs\s+to"
    r"|have\s+to|has\s+to|must|should|shall|would|could|might|maybe|perhaps|if|unless"
    r"|tomorrow|tmrw|tmr|next\s+(?:week|month|time|year|weekend)|later|soon|let's|lets|let\s+P\d+"
    r"|remind|promise|hopefully|can\s+P\d+|can\s+YOU|about\s+to|supposed\s+to|would've|wanted"
    r"|suppose|supposing|hypothetically|what\s+if|in\s+case|lend|borrow)\b"
)
# Estimates are not records: "~50 probably", "60 or so".
HEDGE = re.compile(
    r"~|\b(?:probably|approx(?:imately)?|roughly|or\s+so|ish|estimate[ds]?|think|guess|believe"
    r"|reckon|pretty\s+sure|not\s+sure|iirc|afaik|supposedly|apparently)\b"
)
# Habits and past rounds ("last time", "usually"): not a new entry.
HABIT = re.compile(
    r"\b(?:last\s+time|every\s+time|each\s+time|usually|always|normally|typically|sometimes"
    r"|often|never)\b"
)
NEGATION = re.compile(
    r"\b(?:not|never|didn't|didnt|haven't|havent|hasn't|hasnt|don't|dont|doesn't|doesnt"
    r"|won't|wont|can't|cant|cannot|no\s+one|nobody|nothing|nope|neither|isn't|wasn't|aren't)\b"
)
OPINION = re.compile(
    r"\b(?:rip-?off|ripoff|scam|expensive|pricey|overpriced|cheap|insane|crazy|worth|robbery"
    r"|steal|lol|lmao|haha+|omg|wtf|smh|ugh|bruh|jeez|damn|wow|wild|ridiculous|bargain|deal"
    r"|sale|discount|free|imagine|salary|earn|earned|won|lost|bet|fine|fined|ticketed|price"
    r"|prices|priced|costs|cost|charges|per\s+kg|per\s+hour|an\s+hour|hourly|dude|bro|surge"
    r"|bloody|literally|wants|asking|quoted|quote)\b"
)
GIFT = re.compile(
    r"\b(?:on\s+P\d+(?!\s+'s)|P\d+\s+'s\s+treat|treat(?:ed|ing)?|P\d+\s+'s\s+shout"
    r"|shout(?:ed|ing|s)?|on\s+the\s+house"
    r"|don't\s+worry\s+about\s+it|no\s+need\s+to\s+pay)\b"
)


# "ethan do you still need the 50": a question put to someone by name.
_ASKING = re.compile(r"^P\d+ (?:, )?(?:do|does|did|can|could|would|will|are|have|should) YOU\b")


def is_question(low: str, template: str) -> bool:
    """Whether the message asks something. The start is read from the template, where names are
    already placeholders, so a member called Will ("Will paid 80") does not start a question."""
    start = template.strip()
    return "?" in low or bool(_QUESTION_START.match(start) or _ASKING.match(start))


def category_of(words: list[str]) -> str | None:
    for word in words:
        key = word.lower().strip("'")
        found = CATEGORY_OF.get(key) or CATEGORY_OF.get(key.removesuffix("s"))
        if found:
            return found
    return None
