#!/usr/bin/env python3
"""Send generated demo customers to wharfd through the Segment-compatible
ingest API, as a client application would.

Usage: demo-data.py API_URL WRITE_KEY [USERS]

The data is made up but shaped like a B2B customer base: people with names,
occupations, incomes and cities, working at a handful of companies (accounts,
linked with group calls), some with "Order Completed" events. A fixed seed
makes every run produce the same customers.
"""
import base64
import json
import random
import sys
import urllib.request

FIRST_NAMES = ["Ada", "Björn", "Chloé", "Dmitri", "Elif", "Farah", "Gustavo", "Hana",
               "Ioana", "Jürgen", "Kenji", "Léa", "Mateo", "Nadia", "Oskar", "Priya",
               "Quentin", "Rosa", "Søren", "Tomás", "Uma", "Valentina", "Wei", "Yusuf", "Zoë"]
LAST_NAMES = ["Andersen", "Brown", "Castillo", "Dubois", "Eriksson", "Fischer", "García",
              "Huang", "Ivanova", "Jensen", "Kowalski", "López", "Müller", "Nakamura",
              "O'Brien", "Petrov", "Rossi", "Schmidt", "Tanaka", "Weber"]
OCCUPATIONS = ["Professional", "Management", "Skilled Manual", "Clerical", "Manual"]
CITIES = ["Seattle", "Portland", "Berlin", "Paris", "London", "Sydney", "Toronto", "Madrid"]
COMPANIES = [("Adventure Works", "adventure-works.com"), ("Contoso", "contoso.com"),
             ("Fabrikam", "fabrikam.com"), ("Northwind Traders", "northwindtraders.com"),
             ("Tailspin Toys", "tailspintoys.com"), ("Wide World Importers", "wideworldimporters.com")]


def post(api, key, messages):
    body = json.dumps({"batch": messages}).encode()
    request = urllib.request.Request(
        api + "/v1/batch", data=body, method="POST",
        headers={"Content-Type": "application/json",
                 "Authorization": "Basic " + base64.b64encode((key + ":").encode()).decode()})
    with urllib.request.urlopen(request, timeout=30) as response:
        result = json.load(response)
    if result.get("rejected"):
        raise SystemExit("demo-data: wharfd rejected messages: %s" % result["rejected"][:3])


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    api, key = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    rng = random.Random(20261204)
    messages = []
    events = 0
    for number in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company, domain = rng.choice(COMPANIES)
        user_id = "demo-%05d" % number
        email = "%s.%s%d@%s" % (first.lower(), last.lower().replace("'", ""), number, domain)
        messages.append({"type": "identify", "userId": user_id, "traits": {
            "email": email, "first_name": first, "last_name": last,
            "occupation": rng.choice(OCCUPATIONS), "city": rng.choice(CITIES),
            "yearly_income": rng.randrange(10000, 170001, 10000),
            "cars": rng.randrange(0, 5), "newsletter": rng.random() < 0.6}})
        messages.append({"type": "group", "userId": user_id, "groupId": domain,
                         "traits": {"name": company, "domain": domain}})
        for _ in range(rng.choice([0, 0, 1, 2])):
            events += 1
            messages.append({"type": "track", "userId": user_id, "event": "Order Completed",
                             "properties": {"total": round(rng.uniform(5, 500), 2)}})
        if len(messages) >= 400:
            post(api, key, messages)
            messages = []
    if messages:
        post(api, key, messages)
    print("demo-data: sent %d users at %d companies with %d Order Completed events"
          % (count, len(COMPANIES), events))


if __name__ == "__main__":
    main()
