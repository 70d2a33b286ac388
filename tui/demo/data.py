"""Provides the word lists the demo workspace is made of: B2B companies, people, products."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Industry:
    tag: str
    suffixes: tuple[str, ...]
    products: tuple[str, ...]
    units: tuple[str, ...]


INDUSTRIES: tuple[Industry, ...] = (
    Industry("chemicals", ("Chemicals", "Chemie", "Specialty Chemicals", "Coatings"),
             ("ethanol 96%", "isopropanol", "surfactant blend", "titanium dioxide",
              "epoxy resin", "citric acid"), ("t", "IBC", "drums")),
    Industry("logistics", ("Logistics", "Logistik", "Freight", "Transport"),
             ("pallet wrap film", "strapping band", "cold-chain labels", "dunnage bags",
              "forklift tyres"), ("pallets", "rolls", "cartons")),
    Industry("food", ("Foods", "Lebensmittel", "Bakeries", "Dairy"),
             ("food-grade lubricant", "stretch hood film", "CIP detergent", "starch",
              "stainless fittings"), ("t", "cartons", "pallets")),
    Industry("automotive", ("Automotive", "Components", "Fahrzeugteile", "Precision"),
             ("M8 fasteners", "EPDM gaskets", "cutting fluid", "abrasive discs",
              "threadlocker"), ("boxes", "pcs", "drums")),
    Industry("pharma", ("Pharma", "Life Sciences", "Labs"),
             ("glass vials 10 ml", "nitrile gloves", "excipient grade lactose",
              "cleanroom wipes"), ("cases", "kg", "pallets")),
    Industry("construction", ("Construction", "Bau", "Building Materials"),
             ("concrete admixture", "PU sealant", "anchor bolts", "bitumen primer"),
             ("t", "cartridges", "pails")),
    Industry("packaging", ("Packaging", "Verpackung", "Containers"),
             ("corrugated board", "PET preforms", "hot-melt adhesive", "shrink sleeves"),
             ("pallets", "rolls", "kg")),
    Industry("energy", ("Energy", "Power", "Renewables"),
             ("turbine oil", "transformer oil", "cable glands", "insulating tape"),
             ("drums", "IBC", "boxes")),
)

COMPANY_ROOTS = (
    "Acme", "Borealis", "Cortex", "Delta", "Elbe", "Fjord", "Granit", "Helios", "Isar", "Jura",
    "Kestrel", "Lumen", "Meridian", "Nordwind", "Orion", "Pallas", "Quarzit", "Rhenus", "Saphir",
    "Tamar", "Ultramar", "Vega", "Weser", "Xenon", "Ysel", "Zephyr", "Alder", "Brixham", "Calder",
    "Danube", "Ebro", "Falken", "Garonne", "Hansa", "Ilex", "Kronos", "Loire", "Mosel", "Neckar",
    "Oder", "Perle", "Rhône", "Solent", "Tyne", "Ural", "Vistula", "Wolga", "Arno", "Baltic",
    "Cobalt", "Dover", "Eiger", "Forth", "Gotland", "Humber", "Iona", "Kiel", "Lagan", "Medway",
)

TLDS = ("de", "com", "fr", "nl", "it", "co.uk", "at", "ch", "be", "se", "es", "pl")

FIRST_NAMES = (
    "Anna", "Ben", "Chloé", "David", "Elif", "Felix", "Greta", "Hugo", "Ines", "Jan", "Katarzyna",
    "Lars", "Marta", "Niels", "Olivia", "Paolo", "Quentin", "Rosa", "Stefan", "Tereza", "Umut",
    "Valérie", "Wim", "Yasmin", "Zoë", "Andreas", "Birgit", "Carlos", "Dörte", "Emma", "François",
    "Giulia", "Henrik", "Ivana", "Jürgen", "Karin", "Lucía", "Mikael", "Nora", "Øystein", "Pia",
    "Rafael", "Sanne", "Thomas", "Ursula", "Vincent", "Wiebke", "Xavier", "Agnieszka", "Björn",
)
LAST_NAMES = (
    "Müller", "Schmidt", "Dubois", "Rossi", "de Vries", "Jansen", "Kowalski", "Novak", "García",
    "Lindqvist", "Hansen", "O'Brien", "Fischer", "Weber", "Moreau", "Bianchi", "Peeters", "Nowak",
    "Svensson", "Yılmaz", "Keller", "Brunner", "Lefèvre", "Romano", "Bakker", "Wójcik", "Horvat",
    "Martín", "Berg", "Schulz", "Hoffmann", "Laurent", "Ferrari", "Visser", "Zieliński", "Kovač",
    "Fernández", "Nyström", "Becker", "Wagner",
)
ROLES = (
    "Head of Procurement", "Purchasing Manager", "Buyer", "Plant Manager", "CFO", "CEO",
    "Quality Manager", "Logistics Lead", "Operations Director", "Technical Buyer",
    "Supply Chain Manager", "Maintenance Lead",
)

UNKNOWN_SENDERS = (
    ("Trade Fair Team", "info@industrie-expo-events.com"),
    ("Lena from Quotify", "lena@quotify-startup.io"),
    ("Marek Dvořák", "marek.dvorak@stavby-dvorak.cz"),
    ("Procurement Desk", "procurement@harbourline-shipping.no"),
    ("Sophie Lambert", "s.lambert@ateliers-lambert.fr"),
    ("Webinar Team", "events@supplychain-digest.com"),
    ("Tom Walsh", "tom.walsh@gmail.com"),
    ("Julia Brandt", "julia.brandt82@gmx.de"),
    ("Ahmed Saleh", "ahmed.saleh@outlook.com"),
    ("Kasia W.", "kasia.wisniewska@yahoo.com"),
    ("Pieter de Boer", "pieterdeboer@hotmail.com"),
)

ROLE_MAILBOXES = (
    ("Orders Desk", "orders"), ("Accounts Payable", "invoices"), ("Goods Receiving", "receiving"),
    ("Quality Assurance", "quality"), ("Purchasing Team", "purchasing"),
)

TOPICS = (
    "Quote request: {qty} {unit} {product}",
    "Delivery schedule week {week}",
    "Price update {year} – {product}",
    "Order {order}: {product}",
    "Complaint: late delivery of order {order}",
    "Sample request: {product}",
    "Meeting follow-up: {deal}",
    "Proposal for {deal}",
    "Invoice {year}-{order} query",
    "Framework agreement {deal}",
    "Safety data sheet for {product}",
    "Forecast Q{quarter} volumes",
)

OPENERS = (
    "thanks for your quick reply.",
    "following up on our call earlier this week.",
    "as discussed, please find the details below.",
    "could you confirm the points below?",
    "we are reviewing our suppliers for next year.",
    "our plant team raised a question about the last shipment.",
)
MIDDLES = (
    "We would need {qty} {unit} of {product} delivered to our site by week {week}.",
    "Can you hold the current price for {product} until the end of the quarter?",
    "The last delivery of {product} arrived two days late; please check with your carrier.",
    "Please send the updated safety data sheet and the certificate of analysis for {product}.",
    "Our budget for {deal} is approved in principle; legal still needs to review the terms.",
    "We compared your offer with two competitors; the payment terms are the sticking point.",
    "Could we move the meeting to {weekday} afternoon? {person} from operations will join.",
    "Attached is our forecast; volumes of {product} will grow by roughly {pct}% next year.",
)
CLOSERS = (
    "Best regards,", "Kind regards,", "Thanks and regards,", "Many thanks,", "Cheers,",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")

NOTES = (
    "Prefers calls before 10:00; decisions go through the plant manager.",
    "Budget cycle starts in September; get the proposal in before then.",
    "Competitor offered 4% lower price but worse lead times.",
    "Asked for consignment stock at their second site.",
    "Happy with service; open to a referral to their sister company.",
    "New procurement head since spring; relationship needs rebuilding.",
)
CALLS = (
    "Call: walked through the revised price list.",
    "Call: clarified delivery windows for the next quarter.",
    "Call: discussed the framework agreement draft.",
    "Call: checked in after the complaint was resolved.",
)
MEETINGS = (
    "Site visit: toured the plant, met operations and quality.",
    "Meeting: quarterly business review, volumes up 8%.",
    "Meeting: presented the proposal to the buying committee.",
    "Video call: kick-off with the new procurement team.",
)
OBJECTIONS = (
    "Price is above their budget by about 6%.",
    "Worried about lead times during peak season.",
    "Payment terms: they need 60 days instead of 30.",
    "Need a second source before committing to a framework.",
    "Quality complaint about a previous batch still open.",
)
COMPLAINTS = (
    "Late delivery of the last order: their line stood still for half a day.",
    "Two pallets arrived damaged; they want a credit note.",
    "Invoice shows the old price list.",
    "Certificate of analysis missing from the last batch.",
)
NEXT_ACTIONS = (
    "Send revised offer", "Call the buyer", "Book site visit", "Send samples",
    "Follow up on proposal", "Prepare contract draft", "Ask for referral",
    "Check payment terms with finance", "Send case study", "Confirm meeting agenda",
)
DEAL_KINDS = (
    "Framework {year}", "{product} supply", "Annual contract {year}", "Trial order {product}",
    "Consignment stock", "Second site roll-out", "{product} switch",
)
