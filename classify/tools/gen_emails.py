#!/usr/bin/env python3
"""Generates data/extra.jsonl (training emails) and testdata/emails.jsonl (eval
emails) for the classify package. Eval emails wrap held-out Bitext utterances
(split "test" of classify.SplitOf: FNV-1a 32 % 10 == 0) in greetings, context,
signatures, quoted history and disclaimers; OTHER and non-English emails are
hand-written and split between the two files. Deterministic (seeded).
Run from classify/: python3 tools/gen_emails.py"""
import csv, json, random

def fnv32a(s):
    h = 2166136261
    for b in s.encode():
        h ^= b
        h = (h * 16777619) & 0xffffffff
    return h

rng = random.Random(42)
rows = list(csv.DictReader(open('data/bitext_train.csv')))
test = [r for r in rows if fnv32a(r['utterance']) % 10 == 0]

greetings = ["Hello,", "Hi there,", "Dear Support Team,", "Hi,", "Good morning,", "Dear Sir or Madam,", "Hey team,", "Hello support,", ""]
openers = ["", "", "I hope you are well.", "I'm writing about my account with you.", "Quick question for you.", "Sorry to bother you again.", "I have been a customer for a while now."]
closers = ["", "Thanks in advance for your help.", "Looking forward to your reply.", "Please get back to me soon.", "Any help is appreciated."]
names = ["Anna Schmidt", "John Miller", "Maria Garcia", "Pieter de Vries", "Sophie Martin", "Luca Rossi", "Emily Chen", "Tom Baker"]
signoffs = ["Best regards,", "Kind regards,", "Thanks,", "Cheers,", "Regards,", "Thank you,", "Best,"]
sigs = ["{n}", "{n}\nSent from my iPhone", "-- \n{n}\nSenior Buyer | Acme Corp\nPhone: +1 (555) 010-2233", "{n}\n{n2} Ltd.\nwww.example.com"]
disclaimers = ["", "", "", "CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and intended solely for the addressee. If you received it in error, please delete it."]
quotes = [
    "",
    "",
    "On Mon, 3 Mar 2025 at 10:12, Customer Support <support@example.com> wrote:\n> Thank you for contacting us. Your ticket number is 48213.\n> How can we help you further?\n> Kind regards, The Support Team",
    "From: Customer Support <support@example.com>\nSent: Tuesday, March 4, 2025 9:01 AM\nTo: {e}\nSubject: RE: your request\n\nDear customer, we have received your request about your order and will get back to you.\n\nBest regards\nSupport",
    "-----Original Message-----\nFrom: noreply@example.com\nSent: Friday, 7 February 2025 14:22\nSubject: Your newsletter preferences\n\nYou can update your preferences and invoice settings at any time in your account.",
]
subjects_generic = ["Question", "Help needed", "Re: Your request #48213", "Support request", "Hello", "Quick question", "Fwd: my account", "(no subject)"]
subjects_cat = {
    "ACCOUNT": ["Account question", "Problem with my account"], "CANCELLATION_FEE": ["Cancellation fee?", "Fees question"],
    "CONTACT": ["Need to talk to someone", "Contact"], "DELIVERY": ["Delivery question", "Shipping time"],
    "FEEDBACK": ["Feedback", "Complaint"], "INVOICE": ["Invoice", "Billing document"], "NEWSLETTER": ["Newsletter", "Emails from you"],
    "ORDER": ["My order", "Order question"], "PAYMENT": ["Payment problem", "Paying"], "REFUND": ["Refund", "Money back"],
    "SHIPPING_ADDRESS": ["Address", "Shipping address"],
}

def email(utt, cat):
    n = rng.choice(names); n2 = rng.choice(names).split()[1]
    e = n.lower().replace(' ', '.') + "@example.org"
    parts = []
    g = rng.choice(greetings)
    if g: parts.append(g)
    body = " ".join(x for x in [rng.choice(openers), utt[0].upper() + utt[1:], rng.choice(closers)] if x)
    parts.append(body)
    parts.append(rng.choice(signoffs) + "\n" + rng.choice(sigs).format(n=n, n2=n2))
    d = rng.choice(disclaimers)
    if d: parts.append(d)
    q = rng.choice(quotes).format(e=e)
    if q: parts.append(q)
    subj = rng.choice(subjects_generic) if rng.random() < 0.6 else rng.choice(subjects_cat[cat])
    return {"subject": subj, "body": "\n\n".join(parts), "from": e, "category": cat}

# Hand-written OTHER emails (none of the 11 categories).
other = [
    "We are a marketing agency and would like to propose a partnership with your company.",
    "I would like to apply for the open position of warehouse manager. Please find my CV attached.",
    "Your website shows a typo on the About Us page, just letting you know.",
    "I'm a journalist writing an article about online retail. Could someone answer a few questions for an interview?",
    "Do you sponsor local football clubs? Our youth team is looking for sponsors.",
    "I found a security vulnerability in your web application and would like to report it responsibly.",
    "Can you tell me whether your company is hiring interns this summer?",
    "Please remove my photo from your social media post from last week's event.",
    "What is your company's policy on sustainability and carbon emissions?",
    "Is your office closed on public holidays? I wanted to visit your showroom.",
    "We are organising a trade fair in Berlin and would like to invite you as an exhibitor.",
    "I am a student doing research on customer service; could I send you a short survey?",
    "Do you have any recommendations for a good recipe using your spices?",
    "Our software company offers an AI chatbot and would love to give you a demo.",
    "Can I bring my dog into your store?",
    "I'd like to know who designed your logo, it looks great.",
    "Your parking lot lights have been broken for weeks, someone should fix them.",
    "Could you send me information about your franchise opportunities?",
    "Is it possible to rent your event space for a private birthday party?",
    "I lost my umbrella in your shop yesterday, did anyone find it?",
    "We'd like to quote you for cleaning services for your offices.",
    "Please update your supplier records with our new company name.",
    "How many employees does your company have? It's for a school project.",
    "Are you attending the industry conference in Lisbon next month?",
    "Your competitor is offering a referral program, do you plan something similar?",
    "I'm selling a used forklift, would your warehouse be interested?",
    "Could your CEO give a talk at our university career day?",
    "Test email, please ignore.",
    "Do you accept donations of used packaging material for recycling?",
    "What are the opening hours of your museum shop in the city centre?",
    "I want to invest in your company. Are you listed on a stock exchange?",
    "Our charity is collecting items for a raffle, could you donate a voucher?",
    "Can you recommend a good translator for German documents?",
    "The music you play on hold is lovely, what song is it?",
    "We noticed your domain's SPF record is misconfigured.",
    "Please confirm that you received the signed NDA for our project.",
    "I'm a photographer and would like to offer product photography services.",
    "Could you fill in our vendor due diligence questionnaire by Friday?",
    "Are pets allowed at your company picnic next Saturday?",
    "Hi, just wanted to say hello from the new team in the Munich office.",
    "Wir möchten Ihnen eine Kooperation im Bereich Onlinemarketing vorschlagen.",
    "Ich bewerbe mich hiermit um die ausgeschriebene Stelle als Lagerist.",
    "Nous aimerions vous inviter à notre salon professionnel à Lyon.",
    "Estamos interesados en patrocinar su evento anual, ¿con quién puedo hablar?",
]
# More OTHER emails, training only.
other_train = [
    "Hello, this is a test message to check the mail server.",
    "We'd love to feature your brand in our podcast about small businesses.",
    "I am looking for a job in your logistics department, are there vacancies?",
    "Please find attached our company brochure and price list for office supplies.",
    "Could you tell me the name of the manager of your Hamburg branch?",
    "Our school class would like to visit your factory for a tour.",
    "Congratulations on your company's anniversary!",
    "I'm writing a thesis on e-commerce; can I interview someone from your team?",
    "We offer SEO services that will bring your website to the first page of Google.",
    "Do you have a press kit with high resolution logos?",
    "Is your building wheelchair accessible?",
    "We are updating our records, please confirm your VAT number for our supplier database.",
    "I want to report a phishing email that pretends to come from your company.",
    "Our association is organising a charity run and is looking for volunteers.",
    "Can you recommend a good restaurant near your head office?",
    "I'd like to suggest a new product idea for your catalogue.",
    "Who is responsible for your IT security? We found an open port on your server.",
    "We want to invite your team to a webinar on supply chain management.",
    "Your delivery truck blocked our driveway this morning, please tell the driver.",
    "Please add me to your list of approved translators.",
    "Wir suchen einen Sponsor für unser Vereinsfest im Sommer.",
    "Je suis étudiant et je cherche un stage dans votre entreprise.",
    "Buscamos proveedores para nuestra cadena de tiendas, ¿podemos hablar?",
    "Wij willen u uitnodigen voor onze netwerkborrel volgende week.",
    "This is an automated message from the building management about the elevator maintenance.",
    "Hi, I'm the new account manager at your advertising agency, nice to meet you.",
    "The weather in the photos on your website looks amazing, where was it taken?",
    "Please stop calling my landline, I never gave you this number.",
    "I'm researching the history of your company for a local newspaper.",
    "Is there a discount for employees of partner companies? My HR department asked.",
]
# Hand-written non-English emails for the Bitext categories (DE/FR/ES/NL).
foreign = [
    ("ACCOUNT", "Ich habe mein Passwort vergessen und kann mich nicht mehr in mein Konto einloggen."),
    ("ACCOUNT", "Wie kann ich mein Benutzerkonto löschen?"),
    ("ACCOUNT", "J'ai oublié mon mot de passe, comment puis-je récupérer mon compte ?"),
    ("ACCOUNT", "Quiero crear una cuenta nueva pero el registro no funciona."),
    ("ACCOUNT", "Ik wil mijn account verwijderen, hoe doe ik dat?"),
    ("ACCOUNT", "Je voudrais passer de mon compte Standard à un compte Premium."),
    ("CANCELLATION_FEE", "Fallen Gebühren an, wenn ich meinen Vertrag vorzeitig kündige?"),
    ("CANCELLATION_FEE", "Y a-t-il des frais d'annulation si je résilie maintenant ?"),
    ("CANCELLATION_FEE", "¿Cuánto cuesta la penalización por cancelación anticipada?"),
    ("CANCELLATION_FEE", "Zijn er annuleringskosten als ik mijn abonnement opzeg?"),
    ("CONTACT", "Wie kann ich mit einem Mitarbeiter telefonisch sprechen?"),
    ("CONTACT", "Je voudrais parler à un conseiller humain, quel est votre numéro de téléphone ?"),
    ("CONTACT", "¿Cuál es el horario de atención al cliente? Quiero hablar con un agente."),
    ("CONTACT", "Hoe kan ik een medewerker van de klantenservice bereiken?"),
    ("DELIVERY", "Wie lange dauert die Lieferung nach Österreich?"),
    ("DELIVERY", "Quelles sont les options de livraison disponibles pour la Belgique ?"),
    ("DELIVERY", "¿Cuánto tarda el envío a Canarias?"),
    ("DELIVERY", "Welke bezorgopties zijn er en hoe lang duurt de levering?"),
    ("FEEDBACK", "Ich möchte mich über den unfreundlichen Service in Ihrer Hotline beschweren."),
    ("FEEDBACK", "Je souhaite laisser un avis sur votre service, il était excellent."),
    ("FEEDBACK", "Quiero presentar una queja sobre la atención que recibí."),
    ("FEEDBACK", "Ik wil een klacht indienen over de slechte service."),
    ("INVOICE", "Bitte schicken Sie mir die Rechnung für meine letzte Bestellung."),
    ("INVOICE", "Où puis-je trouver ma facture du mois dernier ?"),
    ("INVOICE", "Necesito una copia de la factura de mi pedido."),
    ("INVOICE", "Kunt u mij de factuur van mijn bestelling sturen?"),
    ("NEWSLETTER", "Bitte melden Sie mich vom Newsletter ab."),
    ("NEWSLETTER", "Je voudrais m'abonner à votre newsletter."),
    ("NEWSLETTER", "Quiero darme de baja del boletín informativo."),
    ("NEWSLETTER", "Ik wil me afmelden voor de nieuwsbrief."),
    ("ORDER", "Ich möchte meine Bestellung 4711 stornieren."),
    ("ORDER", "Où en est ma commande ? Je voudrais suivre mon colis."),
    ("ORDER", "Quiero cambiar un artículo de mi pedido."),
    ("ORDER", "Ik wil graag mijn bestelling annuleren."),
    ("PAYMENT", "Meine Zahlung mit Kreditkarte wurde abgelehnt, was kann ich tun?"),
    ("PAYMENT", "Quels moyens de paiement acceptez-vous ? PayPal est-il possible ?"),
    ("PAYMENT", "Tengo un problema con el pago, la tarjeta no funciona."),
    ("PAYMENT", "Welke betaalmethoden accepteren jullie?"),
    ("REFUND", "Wann bekomme ich mein Geld zurück? Ich warte auf die Rückerstattung."),
    ("REFUND", "Je voudrais être remboursé pour l'article retourné."),
    ("REFUND", "¿Cuál es su política de reembolso?"),
    ("REFUND", "Wanneer krijg ik mijn terugbetaling?"),
    ("SHIPPING_ADDRESS", "Ich muss meine Lieferadresse ändern, ich bin umgezogen."),
    ("SHIPPING_ADDRESS", "Comment modifier mon adresse de livraison ?"),
    ("SHIPPING_ADDRESS", "Quiero cambiar la dirección de envío de mi cuenta."),
    ("SHIPPING_ADDRESS", "Ik wil een nieuw verzendadres instellen."),
]
de_greet = {"Ich": "Hallo,", "Wie": "Guten Tag,", "Bitte": "Sehr geehrte Damen und Herren,", "Fallen": "Hallo,", "Meine": "Hallo,", "Wann": "Hallo,"}

extra, evals = [], []
for i, t in enumerate(other):
    row = {"subject": rng.choice(["Hello", "Inquiry", "Question", "Proposal", "Info"]), "body": t, "from": "someone@example.net", "category": "OTHER"}
    (extra if i % 2 == 0 else evals).append(row)
for t in other_train:
    extra.append({"subject": rng.choice(["Hello", "Inquiry", "Question", "Proposal", "Info", "FYI"]), "body": t, "from": "someone@example.net", "category": "OTHER"})
for i, (cat, t) in enumerate(foreign):
    row = {"subject": rng.choice(subjects_cat[cat]), "body": t, "from": "kunde@example.de", "category": cat}
    # 3 of 4 per category to training, 1 to eval
    (evals if i % 4 == 3 else extra).append(row)

per_cat = {}
for r in test:
    per_cat.setdefault(r['category'], []).append(r['utterance'])
for cat, utts in sorted(per_cat.items()):
    rng.shuffle(utts)
    for u in utts[:22]:
        evals.append(email(u, cat))
rng.shuffle(evals)
with open('data/extra.jsonl', 'w') as f:
    for r in extra: f.write(json.dumps(r, ensure_ascii=False) + "\n")
with open('testdata/emails.jsonl', 'w') as f:
    for r in evals: f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(len(extra), len(evals))
