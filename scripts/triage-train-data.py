#!/usr/bin/env python3
"""Writes config/triage-train.tsv, the training utterances of the learned triage heads.

Deterministic (fixed seed): the same file every run. Each red flag and each request type has core
phrases written as a caller says them on the phone; frames vary who is speaking about whom (the
caller, a spouse, a parent, a child), how it starts ("hi um", "sorry to bother you"), understatement
("it's probably nothing but") and run-on endings. Hard negatives (negation, history-of, look-alikes)
teach the model what is *not* an emergency. Columns: type <TAB> severity (emergency|urgent|-) <TAB> text.

    python3 scripts/triage-train-data.py > config/triage-train.tsv
"""
import random

random.seed(20261207)

# Subjects: (name, be, have, possessive, reflexive, does, object)
PEOPLE = {
    "i": ("i", "am", "have", "my", "myself", "do", "me"),
    "husband": ("my husband", "is", "has", "his", "himself", "does", "him"),
    "wife": ("my wife", "is", "has", "her", "herself", "does", "her"),
    "mom": ("my mom", "is", "has", "her", "herself", "does", "her"),
    "dad": ("my dad", "is", "has", "his", "himself", "does", "him"),
    "son": ("my son", "is", "has", "his", "himself", "does", "him"),
    "daughter": ("my daughter", "is", "has", "her", "herself", "does", "her"),
    "grandma": ("my grandmother", "is", "has", "her", "herself", "does", "her"),
    "grandpa": ("my grandpa", "is", "has", "his", "himself", "does", "him"),
    "friend": ("my friend", "is", "has", "her", "herself", "does", "her"),
    "patient": ("the patient", "is", "has", "his", "himself", "does", "him"),
    "kid": ("my little boy", "is", "has", "his", "himself", "does", "him"),
    "girl": ("my four year old", "is", "has", "her", "herself", "does", "her"),
}
ADULTS = ["i", "husband", "wife", "mom", "dad", "grandma", "grandpa", "friend", "patient"]
ALL = list(PEOPLE)

OPENERS = ["", "", "", "hi ", "hi um ", "yeah hi ", "hello this is about my family ", "um ", "okay so ",
           "sorry to bother you but ", "hi i'm calling because ", "i need help ", "please help ",
           "it's probably nothing but ", "i don't want to overreact but ", "i'm not sure who to call but "]
TAILS = ["", "", "", " what should i do", " it started about an hour ago", " it just started",
         " and it's getting worse", " i don't know what to do", " right now", " this morning",
         " and i'm really scared", " please call me back", " is that normal"]


def fill(template, who):
    s, be, have, pos, refl, does, obj = PEOPLE[who]
    first = who == "i"
    text = template.format(S=s, be=be, have=have, P=pos, R=refl, does=does, O=obj,
                           needs=("need" if first else "needs"),
                           Sb=("i'm" if first else f"{s} is"), cant="can't",
                           feels=("feel" if first else "feels"), says=("say" if first else "says"),
                           keeps=("keep" if first else "keeps"), wants=("want" if first else "wants"),
                           looks=("look" if first else "looks"), goes=("go" if first else "goes"),
                           thinks=("think" if first else "thinks"))
    return text


def frame(core, who):
    return (random.choice(OPENERS) + fill(core, who) + random.choice(TAILS)).strip()


# --- Emergencies (call 911 now), by published telephone-triage criteria -----------------------
EMERGENCY = {
    "chest": ["{S} {have} chest pain that goes down {P} left arm",
              "{S} {have} this heavy pressure in the middle of {P} chest and {be} sweating",
              "{P} chest {feels} tight like a band and {S} {cant} catch {P} breath",
              "it feels like something heavy is pressing on {P} chest",
              "{S} {have} a crushing pain in {P} chest",
              "{P} chest hurts and the pain is going up into {P} jaw",
              "{S} {have} chest pain and {be} sweaty and sick to {P} stomach",
              "{S} {have} squeezing in {P} chest and {P} arm is numb",
              "{S} {have} never had chest pain like this before",
              "there's a pain in {P} chest that spreads to {P} back and {P} shoulder",
              "{S} {says} {P} heart hurts and {S} {be} pale and clammy",
              "{S} {have} had chest tightness for an hour and now {S} {feels} faint",
              "{P} chest is killing {R} and {S} {be} short of breath",
              "it's probably just indigestion but {P} chest is burning and {P} left arm aches and {S} {be} dizzy",
              "{S} {have} pressure in {P} chest when {S} breathe and {P} heart is pounding"],
    "stroke": ["{P} face is drooping on one side",
               "{S} {cant} lift {P} right arm and {P} speech is slurred",
               "all of a sudden {S} {cant} talk right and the words come out wrong",
               "{P} left arm and leg went numb out of nowhere",
               "one side of {P} face went numb and {S} {be} confused",
               "{S} suddenly {cant} see out of one eye and {P} arm is weak",
               "{P} smile is crooked and {S} {be} slurring {P} words",
               "{S} {be} talking gibberish and {cant} move {P} left hand",
               "{S} woke up and {cant} feel the right side of {P} body",
               "{S} {be} stumbling and {P} words are jumbled and {P} face looks droopy",
               "{S} suddenly started talking nonsense and {P} leg gave out",
               "{S} suddenly {cant} understand what anyone is saying"],
    "breathing": ["{S} {cant} breathe",
                  "{S} {be} struggling to breathe",
                  "{S} {be} wheezing so hard {S} {cant} say a full sentence",
                  "{S} can only get out a couple of words between breaths",
                  "{P} lips are turning blue",
                  "{S} {be} gasping for air",
                  "{S} {be} so short of breath {S} {cant} talk",
                  "{P} inhaler isn't helping and {S} {cant} get air in",
                  "{S} {be} breathing really fast and {P} ribs are pulling in with every breath",
                  "{S} {cant} catch {P} breath even sitting still and it's getting worse",
                  "{S} {be} choking and {cant} breathe",
                  "{S} {be} turning blue around the lips", "{S} {looks} purple and {be} breathing funny"],
    "anaphylaxis": ["{P} throat is closing up",
                    "{P} tongue is swelling after eating shrimp",
                    "{S} got stung by a bee and {P} face is swelling and {S} {be} having trouble breathing",
                    "{S} {have} hives all over and {P} throat {feels} tight",
                    "{P} lips and eyes swelled up after the new antibiotic and {S} {cant} swallow",
                    "{S} ate something with nuts and now {S} {be} wheezing and {P} mouth is swollen",
                    "{S} {be} having an allergic reaction and {P} throat is tight",
                    "after the shot {P} face blew up and {S} {be} having a hard time breathing",
                    "{S} {be} allergic to bees and got stung and now {S} {be} wheezing",
                    "{S} ate peanuts by mistake and {P} voice sounds hoarse and {S} {feels} dizzy"],
    "bleeding": ["{S} {be} bleeding and it won't stop",
                 "the blood is spurting out of the cut",
                 "{S} {be} vomiting bright red blood",
                 "{S} {be} throwing up blood",
                 "{S} {be} coughing up blood", "{S} {be} coughing up bright red blood",
                 "{S} {be} throwing up something that looks like coffee grounds",
                 "there's a lot of blood in the toilet and {S} {feels} like passing out",
                 "{S} cut {P} arm really deep and it's gushing blood",
                 "{P} nose has been pouring blood for forty minutes and won't stop",
                 "{S} {be} soaking through towel after towel with blood",
                 "{S} {be} passing black tarry stool and {be} dizzy"],
    "overdose": ["{S} took too many of {P} pills",
                 "{S} swallowed a whole bottle of tylenol",
                 "{S} took a bunch of sleeping pills",
                 "{S} overdosed",
                 "{S} took way more of {P} pain medicine than {S} should have",
                 "{S} drank some of the cleaning stuff under the sink",
                 "{S} got into the medicine cabinet and ate some pills",
                 "{S} accidentally took a double dose of {P} heart pills and {be} really drowsy",
                 "{S} swallowed some antifreeze",
                 "{S} took pills and alcohol together and {be} hard to wake",
                 "{S} took like twenty of {P} anxiety pills", "{S} took a handful of {P} sleeping medicine on purpose",
                 "{S} swallowed a battery"],
    "suicidal": ["{S} {wants} to kill {R}",
                 "{S} {be} thinking about ending {P} life",
                 "{S} {says} {S} {does} not want to live anymore",
                 "{S} {be} going to hurt {R} tonight",
                 "{S} {have} a plan to end it",
                 "{S} {thinks} everyone would be better off without {R} and {S} {have} the pills ready",
                 "{S} {be} suicidal", "{S} {does} not see the point of living anymore and {be} going to end it",
                 "{S} {says} {S} {be} done and {wants} to die tonight",
                 "{S} {says} {S} {be} going to take {P} own life"],
    "unresponsive": ["{S} passed out and won't wake up",
                     "{S} collapsed on the floor",
                     "{S} {be} not responding to me",
                     "{S} fainted and {be} barely breathing",
                     "i found {O} unconscious",
                     "{S} just went limp and {be} not answering",
                     "i can't wake {O} up",
                     "{S} blacked out and hit the floor and {be} still out"],
    "seizure": ["{S} {be} having a seizure",
                "{S} {be} shaking all over and won't respond",
                "{S} had a convulsion and {be} still not awake",
                "{S} {be} having a fit and {P} eyes rolled back",
                "{S} {be} seizing right now",
                "{S} had a seizure for the first time",
                "{S} had a fit and {be} still not waking up properly", "{S} {be} twitching and jerking and not responding"],
    "head_injury": ["{S} hit {P} head and now {S} {keeps} throwing up",
                    "{S} fell and hit {P} head and {be} confused",
                    "after bumping {P} head {S} {be} really drowsy and slurring",
                    "{S} {have} a head injury and {be} vomiting",
                    "{S} hit {P} head on the concrete and {does} not know where {S} {be}",
                    "{S} fell off the ladder onto {P} head and {be} acting strange and sleepy",
                    "{S} banged {P} head in the car accident and {be} throwing up and confused",
                    "{S} hit {P} head and {keeps} forgetting what just happened",
                    "{S} fell and hit {P} head and {keeps} repeating the same questions",
                    "since {S} hit {P} head {S} {have} the worst headache and {be} sleepy",
                    "{S} got a concussion playing football and now {S} {cant} remember anything and {P} head is pounding"],
    "altered": ["{S} {be} suddenly confused and not making sense",
                "{P} blood sugar is really low and {S} {be} confused and sweaty and shaky",
                "{S} {be} diabetic and {be} acting drunk and won't eat anything",
                "{S} {does} not know who i am all of a sudden",
                "{S} {be} really out of it and {cant} stay awake",
                "{S} {be} disoriented and talking to people who aren't there and it came on today"],
    "pregnancy": ["{S} {be} pregnant and bleeding",
                  "{S} {be} sixteen weeks pregnant and there's a lot of blood",
                  "{S} {be} pregnant and {have} heavy bleeding and cramps",
                  "{S} {be} eight months pregnant and bleeding a lot",
                  "{S} {be} pregnant and soaking pads with blood",
                  "{S} {be} in {P} third trimester and started bleeding bright red"],
}
INFANT = ["my {age} old has a fever of {temp}", "my {age} old baby's temperature is {temp}",
          "my newborn feels hot and the thermometer says {temp}", "our {age} old is burning up it's {temp}",
          "the baby is {age} old and has a temperature of {temp}", "my {age} old grandson has a fever of {temp}"]
INFANT_AGES = ["two week", "three week", "four week", "five week", "six week", "seven week", "one month",
               "two month", "ten day", "eight week"]
FEVERS = ["a hundred point four", "a hundred point five", "one hundred and one", "a hundred and one point two",
          "a hundred point eight", "one oh one", "a hundred and two", "thirty eight point five"]

# --- Urgent (same-day, no 911) -----------------------------------------------------------------
URGENT = ["{S} {have} a fever of a hundred and three and it won't come down",
          "{P} fever has been over a hundred and two for three days",
          "{S} started the new medicine and broke out in a rash all over",
          "{P} incision is red and hot and oozing",
          "{S} {have} been throwing up all day and {cant} keep fluids down",
          "{S} {be} getting worse not better on the antibiotics",
          "{P} cough is worse and now {S} {have} a high fever",
          "{P} leg is red swollen and hot to touch",
          "{S} {have} burning when {S} pee and now {P} back hurts and {S} {have} chills",
          "{S} {have} had diarrhea for two days and {be} getting dizzy",
          "{P} blood sugar has been over four hundred all day",
          "{P} blood pressure is really high at home and {S} {have} a headache",
          "{P} ear hurts really bad and {S} {have} a fever of a hundred and three",
          "{S} {be} covered in hives after the new pill but breathing fine"]

# --- Hard negatives: red-flag words that are not an emergency now ------------------------------
NEGATIVES = [
    ("symptom", "{S} {have} a little chest congestion from a cold no chest pain"),
    ("symptom", "no trouble breathing just a stuffy nose and sneezing"),
    ("symptom", "{S} {have} a rash from poison ivy"),
    ("symptom", "{S} {have} a nosebleed this morning but it stopped"),
    ("symptom", "{S} cut {P} finger cooking and it stopped bleeding but it's a little sore"),
    ("symptom", "{S} bumped {P} head on the cabinet and {be} totally fine just a small bump"),
    ("symptom", "{S} {have} heartburn after spicy food"),
    ("symptom", "{S} {be} a little short of breath climbing stairs since {S} got the cold"),
    ("symptom", "{P} arm is sore where {S} got the flu shot"),
    ("symptom", "{S} {have} a mild headache and a runny nose"),
    ("symptom", "{S} {be} pregnant and {have} some morning sickness"),
    ("symptom", "{P} gums bleed a little when {S} brush"),
    ("symptom", "{S} {have} trouble sleeping and wake up in the middle of the night"),
    ("symptom", "{S} {have} been feeling really tired and run down lately"),
    ("symptom", "{S} {be} a little forgetful lately and want to get it checked"),
    ("symptom", "{S} {have} had headaches off and on for a month"),
    ("symptom", "{P} blood sugar has been running a bit high in the mornings"),
    ("symptom", "{S} {have} trouble swallowing pills"),
    ("symptom", "{S} {feels} anxious and stressed with work"),
    ("records", "{S} {needs} the discharge papers from when {S} had chest pain last year"),
    ("records", "{S} {needs} records from {P} stroke a few years ago for the new neurologist"),
    ("records", "can you send the notes from {P} seizure visit in march to the school"),
    ("refill", "the pharmacy gave {O} a new bottle of pills that look different"),
    ("refill", "{S} {needs} a refill of {P} inhaler for {P} asthma"),
    ("refill", "{S} {needs} more of {P} seizure medicine before {S} run out"),
    ("refill", "{S} {needs} a refill on {P} blood thinner"),
    ("refill", "{S} {be} almost out of {P} nitroglycerin tablets for {P} angina"),
    ("refill", "{S} {needs} {P} epipen renewed it expired"),
    ("appointment", "{S} had a heart attack two years ago and need {P} yearly cardiology follow up"),
    ("appointment", "{S} {needs} a follow up appointment after {P} hospital stay for chest pain last month"),
    ("appointment", "{S} {be} pregnant and need to schedule {P} next prenatal visit"),
    ("results", "did the tests from {P} chest pain workup come back normal"),
    ("results", "{S} want to know the results of {P} pregnancy test"),
    ("referral", "{S} {needs} a referral to a therapist for depression"),
    ("referral", "{S} {needs} a referral to the allergist for {P} peanut allergy"),
    ("provider", "{S} {be} feeling much better the shortness of breath went away"),
    ("provider", "tell the doctor the chest pain from last week is gone now"),
    ("billing", "{S} got a bill from the emergency room visit for {P} fall"),
    ("administrative", "{S} {needs} a form filled out for {P} seizure disorder for the dmv"),
]

# --- Ordinary requests, by type ----------------------------------------------------------------
MEDS = ["lisinopril", "metformin", "atorvastatin", "levothyroxine", "amlodipine", "sertraline", "my water pill",
        "my blood pressure medicine", "my cholesterol pills", "my thyroid medication", "my inhaler", "omeprazole",
        "losartan", "gabapentin", "my insulin", "my allergy pills", "zoloft", "my birth control"]
PHARM = ["cvs", "walgreens", "the rite aid", "the pharmacy on main street", "my mail order pharmacy", "kroger"]
TESTS = ["blood work", "labs", "x ray", "mri", "ct scan", "ultrasound", "biopsy", "cholesterol test", "a one c",
         "urine test", "mammogram", "colonoscopy", "thyroid test", "covid test", "strep test"]
SPECIALISTS = ["a cardiologist", "a dermatologist", "an orthopedic doctor", "physical therapy", "a neurologist",
               "a gastroenterologist", "an eye doctor", "an allergist", "a podiatrist", "a counselor", "an ent"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "next week", "tomorrow", "this week"]

TYPES = {
    "refill": ["i need a refill on {med}", "can you call in {med} to {pharm}", "{S} {be} out of {med}",
               "{pharm} said they need the doctor to approve {med}", "i'm running low on {med}",
               "could the doctor renew the prescription for {med}", "i need more {med} before {day}",
               "my prescription for {med} ran out", "can i get a ninety day supply of {med}",
               "the pharmacy says there are no refills left on {med}"],
    "appointment": ["i need to make an appointment", "can i schedule a visit {day}", "i need to reschedule my appointment",
                    "i want to cancel my appointment on {day}", "do you have anything open {day}",
                    "i'd like to book a physical", "i need to come in to see the doctor", "what time is my appointment",
                    "i need a follow up visit", "can i get my kids in for their checkups", "i need to move my appointment to {day}",
                    "is there any opening with the nurse practitioner {day}"],
    "symptom": ["{S} {have} had a sore throat for a few days", "{S} {have} a cough that won't go away",
                "{P} back has been hurting", "{S} {have} a rash on {P} arm", "{S} {have} been feeling dizzy sometimes",
                "{P} knee is swollen after a fall", "{S} {have} a low grade fever and body aches", "{P} ear hurts",
                "{S} {have} had diarrhea since yesterday", "{S} {be} having headaches more often", "{P} eye is red and itchy",
                "{S} {have} heartburn every night", "{S} {have} a lump on {P} neck", "{S} {have} been really tired lately",
                "{P} ankle hurts when {S} walk", "{S} {have} pain when {S} pee"],
    "results": ["i'm calling about my {test} results", "did my {test} come back", "i want to go over the results of my {test}",
                "nobody called me about my {test}", "can someone explain my {test} results", "are my {test} results in",
                "i saw my {test} results online and have questions"],
    "referral": ["i need a referral to {spec}", "can the doctor refer me to {spec}", "my insurance needs a referral for {spec}",
                 "{spec} never got my referral", "i need my referral renewed for {spec}", "can you send a referral to {spec} for {R}"],
    "billing": ["i have a question about my bill", "i was charged twice", "i want to set up a payment plan",
                "my insurance should have covered this bill", "can i pay my balance over the phone", "why is my copay so high",
                "i got a statement i don't understand", "i need an itemized bill", "i have new insurance for billing"],
    "prior_auth": ["my insurance needs a prior authorization for {med}", "the pharmacy says {med} needs prior approval",
                   "i need a prior auth for my {test}", "insurance denied {med} and wants paperwork from the doctor",
                   "has the authorization for my {test} been approved", "the insurance company needs a pre authorization"],
    "records": ["i need a copy of my medical records", "can you send my records to my new doctor", "i need my shot records",
                "i need my immunization records for school", "please fax my records to {spec}", "i need a copy of my {test} report",
                "how do i get my chart sent to another office"],
    "callback": ["can someone call me back", "i'm returning a call from your office", "please have the nurse call me",
                 "i missed a call from this number", "i'd like a call back today", "someone left me a message to call back",
                 "can the doctor's assistant give me a call"],
    "urgent": ["i need to talk to someone right away", "this is urgent i need help now", "it's an urgent matter please",
               "i need to speak to a nurse urgently"],
    "administrative": ["what are your office hours", "do you take my insurance", "i need a work note", "i need a form filled out",
                       "where is your office located", "i need to update my address", "i need a letter for my employer",
                       "are you open on saturday", "i need a school physical form signed", "can you update my phone number",
                       "i need to fill out disability paperwork"],
    "provider": ["i have a question for the doctor", "i want to leave a message for my doctor", "please tell the doctor the medicine is working",
                 "i need to talk to my doctor about my treatment", "can you let the doctor know i decided on the surgery",
                 "i have a question for dr smith about my care", "i wanted to update the doctor on how i'm doing"],
}


MORE = {
 "refill": [
  "can you send a new prescription for {med} to {pharm}",
  "i switched pharmacies and need {med} sent to {pharm}",
  "the doctor changed my dose of {med} and i need a new script",
  "i'm going out of town and need an early refill of {med}",
  "my refill request for {med} has been pending for a week",
  "i need my {med} refilled it's the thirty day supply"
 ],
 "appointment": [
  "can i see the doctor about my {test} results in person",
  "i need a physical for work",
  "my son needs a sports physical",
  "i'd like to get in to talk about my diabetes",
  "i need my annual wellness visit",
  "can i bring my daughter in for her shots",
  "i'm running late for my appointment can i still come",
  "i need a telehealth visit"
 ],
 "symptom": [
  "{P} toddler has pink eye",
  "{S} {have} a sinus infection i think",
  "{S} {have} been constipated for a week",
  "{P} allergies are acting up",
  "{S} {have} a wart on {P} foot",
  "{P} shoulder has been stiff",
  "{S} {have} had a cold for a week",
  "{S} {have} a bug bite that itches",
  "{P} baby has a diaper rash",
  "{S} {have} been having mild stomach cramps after eating",
  "{S} {have} a toothache",
  "{S} sprained {P} wrist a few days ago and it's still sore",
  "{S} {have} been sneezing a lot",
  "{P} skin is dry and cracking",
  "{S} {have} a small cut that looks fine but {S} want someone to check it"
 ],
 "results": [
  "is my pap smear back",
  "what did my blood sugar come back at",
  "i got a letter about abnormal results and want to talk to someone",
  "my {test} was last tuesday have you heard anything",
  "can you tell me if my potassium was okay"
 ],
 "referral": [
  "i need to see a specialist for my back",
  "the specialist said they need a referral from my primary",
  "can you refer my son to a speech therapist",
  "i want a second opinion from {spec}"
 ],
 "billing": [
  "my payment didn't go through",
  "i'm calling about a collections notice",
  "i need a receipt for my hsa account",
  "can you bill my secondary insurance",
  "i have a question about a charge on my card",
  "i was billed for a no show but i called to cancel"
 ],
 "prior_auth": [
  "the drug is not covered and insurance wants a letter of medical necessity",
  "my insurance wants paperwork before they pay for physical therapy",
  "the prior authorization for {med} expired",
  "the pharmacy is waiting on the insurance approval for {med}"
 ],
 "records": [
  "i need my records sent to the surgeon",
  "can you email me my visit notes",
  "i need proof of my tetanus shot",
  "my lawyer needs a copy of my records",
  "can i get a printout of my allergy list"
 ],
 "callback": [
  "i'm calling back i got a message from the office",
  "the nurse asked me to call back after lunch",
  "returning doctor lee's call",
  "i was told someone would call me back yesterday and nobody did",
  "i'm just calling back about the message you left"
 ],
 "administrative": [
  "how do i get into the patient portal",
  "my portal account is locked",
  "i forgot my password for the portal",
  "are you open on the fourth of july",
  "how late are you open on wednesdays",
  "can you give me directions to the clinic",
  "do you have a fax number",
  "i need a doctor's note for school",
  "i'm switching to a different doctor in the practice",
  "how do i sign up as a new patient",
  "is the office closed for the holiday"
 ],
 "provider": [
  "this is the home health nurse with an update on a patient",
  "i have a question about the dosage the doctor told me",
  "please give the doctor a message from the pharmacy",
  "i'm a caregiver calling with an update for the doctor",
  "can the doctor look at the photos i sent through the portal",
  "i want to ask the doctor if i can stop taking {med}"
 ]
}
for _kind, _cores in MORE.items():
    TYPES[_kind].extend(_cores)


# --- Dialog answers that name no request (type "-"): dates, yes/no, names, choices -------------
ANSWERS = ["yes", "yeah", "yes that's right", "correct", "no", "nope", "no that's wrong", "no thank you", "hello",
           "hello?", "hi", "are you there", "um", "uh huh", "okay", "sure", "i don't know", "can you repeat that",
           "sorry what was that", "the first one", "the second one", "none of those", "tuesday morning",
           "anytime after three", "next week is fine", "thank you", "thanks bye", "goodbye", "that's all",
           "one", "two", "press one", "my name is john smith", "it's maria lopez", "this is robert", "lisinopril",
           "metformin five hundred", "walgreens", "the one on main street", "i'm calling for my mother",
           "she's my daughter", "it's for my son", "that's my husband's", "i'll hold", "wait a second",
           "let me get my card", "hang on", "what", "is this the doctor's office"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
ORD = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
       "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth",
       "nineteenth", "twentieth", "twenty first", "twenty second", "twenty third", "twenty fourth", "twenty fifth",
       "twenty sixth", "twenty seventh", "twenty eighth"]
DECADES = ["forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def spoken_dates(n):
    out = []
    for _ in range(n):
        m, d = random.choice(MONTHS), random.choice(ORD)
        y = random.choice(["nineteen " + random.choice(DECADES) + " " + random.choice(["one", "two", "five", "eight", ""]),
                           "two thousand " + random.choice(["one", "five", "ten", "twelve"])]).strip()
        form = random.choice(["{m} {d} {y}", "it's {m} {d} {y}", "my date of birth is {m} {d} {y}",
                              "the {d} of {m} {y}", "i was born {m} {d} {y}", "{m} {d}"])
        out.append(form.format(m=m, d=d, y=y))
    out += ["03 05 1982", "3 5 82", "0 6 1 5 1 9 5 5", "12 25 1975", "march 5th 1982", "may 31, 1989"]
    return out


def slot(t):
    return t.replace("{med}", random.choice(MEDS)).replace("{pharm}", random.choice(PHARM)) \
        .replace("{test}", random.choice(TESTS)).replace("{spec}", random.choice(SPECIALISTS)) \
        .replace("{day}", random.choice(DAYS))


def main():
    rows = []
    for flag, cores in EMERGENCY.items():
        people = ADULTS if flag in ("chest", "stroke", "pregnancy") else ALL
        if flag == "pregnancy":
            people = ["i", "wife", "daughter", "friend", "patient"]
        for core in cores:
            for who in random.sample([p for p in people if not (p == "i" and "{O}" in core)], 4):
                rows.append(("urgent", "emergency", frame(core, who)))
    for core in INFANT:
        for _ in range(4):
            t = core.replace("{age}", random.choice(INFANT_AGES)).replace("{temp}", random.choice(FEVERS))
            rows.append(("urgent", "emergency", (random.choice(OPENERS) + t + random.choice(TAILS)).strip()))
    for core in URGENT:
        for who in random.sample(ALL, 4):
            rows.append(("symptom", "urgent", frame(core, who)))
    for kind, core in NEGATIVES:
        for who in random.sample(ADULTS, 3):
            rows.append((kind, "-", frame(core, who)))
    for kind, cores in TYPES.items():
        for core in cores:
            for _ in range(4 if len(cores) < 8 else 3):
                who = random.choice(ADULTS)
                rows.append((kind, "-", (random.choice(OPENERS[:12]) + fill(slot(core), who) + random.choice(["", "", " please", " thank you", " when you get a chance"])).strip()))
    for text in ANSWERS + spoken_dates(80):
        rows.append(("-", "-", text))
    seen = set()
    print("# Training utterances for the learned triage heads, written by scripts/triage-train-data.py (do not edit by hand).")
    print("# Columns: type <TAB> severity (emergency | urgent | -) <TAB> text.")
    for kind, sev, text in rows:
        text = " ".join(text.split())
        if text not in seen:
            seen.add(text)
            print(f"{kind}\t{sev}\t{text}")


main()
