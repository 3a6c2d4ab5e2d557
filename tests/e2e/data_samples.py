"""Readers for the public sample data that test_real_data.py sends through wharfd.

The files stay where they are, in shared/data beside the repository
(WHARF_SOURCE_DIR/../shared/data): AdventureWorks' ProspectiveBuyer.csv and
the Chinook Customer.json and Invoice.json. The readers turn them into
Segment messages, and the tests compute every expected count from the same
rows, never from wharfd.
"""

import codecs
import json
import os
import re

import harness

DATA_DIR = os.path.normpath(os.path.join(harness.SOURCE_DIR, "..", "shared", "data"))
PROSPECTIVE_BUYER_PATH = os.path.join(DATA_DIR, "adventureworks", "ProspectiveBuyer.csv")
CHINOOK_CUSTOMER_PATH = os.path.join(DATA_DIR, "chinook", "Customer.json")
CHINOOK_INVOICE_PATH = os.path.join(DATA_DIR, "chinook", "Invoice.json")

# ProspectiveBuyer.csv columns, in file order ('|'-separated, no header line).
PROSPECTIVE_BUYER_COLUMNS = [
    "ProspectiveBuyerKey", "ProspectAlternateKey", "FirstName", "MiddleName", "LastName",
    "BirthDate", "MaritalStatus", "Gender", "EmailAddress", "YearlyIncome", "TotalChildren",
    "NumberChildrenAtHome", "Education", "Occupation", "HouseOwnerFlag", "NumberCarsOwned",
    "AddressLine1", "AddressLine2", "City", "StateProvinceCode", "PostalCode", "Phone",
    "Salutation", "Unknown",
]

# docs/customer-data.md, "Domains": labels of letters, digits and inner
# hyphens, at least two of them, and an alphabetic top-level part of at least
# two letters.
DOMAIN_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
WELL_FORMED_DOMAIN = re.compile(r"^(?:%s\.)+[a-z]{2,}$" % DOMAIN_LABEL)


def require_file(path):
    """Return path, or fail with a message that names where the sample data belongs."""
    if not os.path.isfile(path):
        raise AssertionError(
            "sample data file %s is missing; the real-data tests read shared/data beside the "
            "repository (WHARF_SOURCE_DIR/../shared/data, WHARF_SOURCE_DIR=%s)"
            % (path, harness.SOURCE_DIR))
    return path


def decode_text_file(path):
    """Decode a text file by its byte order mark: UTF-16 or UTF-8 with one, UTF-8 without.

    Without a BOM the bytes must be valid UTF-8, so a file in another
    encoding fails here instead of sending misread names.
    """
    with open(require_file(path), "rb") as data_file:
        raw = data_file.read()
    if raw.startswith(codecs.BOM_UTF16_LE) or raw.startswith(codecs.BOM_UTF16_BE):
        text = raw.decode("utf-16")
    elif raw.startswith(codecs.BOM_UTF8):
        text = raw[len(codecs.BOM_UTF8):].decode("utf-8")
    else:
        text = raw.decode("utf-8")
    if "\x00" in text:
        raise AssertionError("%s decodes with NUL characters; its encoding was not recognised"
                             % path)
    return text


def is_well_formed_domain(domain):
    return WELL_FORMED_DOMAIN.match(domain) is not None


def email_domain(email):
    return email.rsplit("@", 1)[1].lower()


def whole_number_or_float(text):
    """A number field such as "40000.0000" as an int when it is whole, else a float."""
    value = float(text)
    return int(value) if value.is_integer() else value


def read_prospective_buyers():
    """Rows of ProspectiveBuyer.csv as dicts keyed by PROSPECTIVE_BUYER_COLUMNS."""
    rows = []
    for line_number, line in enumerate(decode_text_file(PROSPECTIVE_BUYER_PATH).splitlines(), 1):
        if line == "":
            continue
        fields = line.split("|")
        if len(fields) != len(PROSPECTIVE_BUYER_COLUMNS):
            raise AssertionError("%s line %d has %d fields, expected %d"
                                 % (PROSPECTIVE_BUYER_PATH, line_number, len(fields),
                                    len(PROSPECTIVE_BUYER_COLUMNS)))
        rows.append(dict(zip(PROSPECTIVE_BUYER_COLUMNS, fields)))
    return rows


def buyer_traits(row):
    """Traits of one buyer's identify call. Empty fields are left out, so they stay unset."""
    traits = {
        "email": row["EmailAddress"],
        "first_name": row["FirstName"],
        "middle_name": row["MiddleName"],
        "last_name": row["LastName"],
        # "1945-12-30 00:00:00.000": the date part is an ISO 8601 date.
        "birth_date": row["BirthDate"].split(" ")[0],
        "marital_status": row["MaritalStatus"],
        "gender": row["Gender"],
        "yearly_income": whole_number_or_float(row["YearlyIncome"]),
        "total_children": int(row["TotalChildren"]),
        "children_at_home": int(row["NumberChildrenAtHome"]),
        "education": row["Education"],
        "occupation": row["Occupation"],
        "house_owner": row["HouseOwnerFlag"] == "1",
        "cars_owned": int(row["NumberCarsOwned"]),
        "address_line1": row["AddressLine1"],
        "address_line2": row["AddressLine2"],
        "city": row["City"],
        "state_province": row["StateProvinceCode"],
        "postal_code": row["PostalCode"],
        "phone": row["Phone"],
        "salutation": row["Salutation"],
        "prospect_alternate_key": row["ProspectAlternateKey"],
    }
    return {name: value for name, value in traits.items() if value != ""}


def buyer_messages(rows):
    """An identify and a group call per buyer; the group is the e-mail domain."""
    messages = []
    for row in rows:
        domain = email_domain(row["EmailAddress"])
        messages.append({"type": "identify", "userId": row["ProspectiveBuyerKey"],
                         "messageId": "buyer-identify-" + row["ProspectiveBuyerKey"],
                         "traits": buyer_traits(row)})
        messages.append({"type": "group", "userId": row["ProspectiveBuyerKey"],
                         "messageId": "buyer-group-" + row["ProspectiveBuyerKey"],
                         "groupId": domain, "traits": {"domain": domain, "name": domain}})
    return messages


def read_json_array(path):
    value = json.loads(decode_text_file(path))
    if not isinstance(value, list):
        raise AssertionError("%s is not a JSON array" % path)
    return value


def read_chinook_customers():
    return read_json_array(CHINOOK_CUSTOMER_PATH)


def read_chinook_invoices():
    return read_json_array(CHINOOK_INVOICE_PATH)


# Customer.json member -> attribute name.
CHINOOK_CUSTOMER_TRAITS = {
    "FirstName": "first_name", "LastName": "last_name", "Company": "company",
    "Address": "address", "City": "city", "State": "state", "Country": "country",
    "PostalCode": "postal_code", "Phone": "phone", "Fax": "fax", "Email": "email",
    "SupportRepId": "support_rep_id",
}


def customer_traits(customer):
    """Traits of one Chinook customer; empty strings and nulls are left out."""
    return {trait: customer[member] for member, trait in CHINOOK_CUSTOMER_TRAITS.items()
            if customer.get(member) not in ("", None)}


def customer_messages(customers):
    # CustomerId goes as a JSON integer, as Segment libraries pass numeric ids.
    return [{"type": "identify", "userId": customer["CustomerId"],
             "messageId": "customer-%d" % customer["CustomerId"],
             "traits": customer_traits(customer)} for customer in customers]


def invoice_properties(invoice):
    return {"invoice_id": invoice["InvoiceId"], "total": invoice["Total"],
            "billing_city": invoice["BillingCity"], "billing_country": invoice["BillingCountry"]}


def invoice_messages(invoices):
    # InvoiceDate has no offset ("2021-01-01T00:00:00"), which wharfd takes as UTC.
    return [{"type": "track", "userId": invoice["CustomerId"], "event": "Order Completed",
             "messageId": "invoice-%d" % invoice["InvoiceId"],
             "timestamp": invoice["InvoiceDate"],
             "properties": invoice_properties(invoice)} for invoice in invoices]
