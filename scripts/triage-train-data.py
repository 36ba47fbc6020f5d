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
    he = {"my": "i", "his": "he", "her": "she"}[pos]
    text = template.format(S=s, be=be, have=have, P=pos, R=refl, does=does, O=obj, H=he,
                           Hb=("i'm" if first else f"{he}'s"),
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
              "{P} chest is killing {O} and {S} {be} short of breath",
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


# --- Second round: new phrasings of every kind (written fresh, not taken from any held-out set) --
# Emergencies as people say them: idioms, understatement, run-on phone speech, third person.
EMERGENCY_MORE = {
    "chest": ["{P} chest {feels} like it's in a vise and {S} {be} soaked in sweat",
              "{S} {have} this terrible ache behind {P} breastbone that goes into {P} neck",
              "{S} {be} clutching {P} chest and {says} it feels like a brick on it",
              "{P} chest started hurting out of nowhere and {S} {be} throwing up and gray",
              "{S} {have} a tight squeezing feeling in {P} chest and {P} left shoulder and jaw ache",
              "it's like an elephant standing on {P} chest and {S} {cant} get comfortable",
              "{S} {be} having chest pains and {P} arm is tingling and {S} {feels} like passing out",
              "{S} {feels} a burning pressure in {P} chest going to {P} back and {be} cold and clammy"],
    "stroke": ["{P} mouth is sagging on one side and {S} {cant} get the words out",
               "{S} {be} suddenly dragging {P} left leg and {P} arm {feels} dead",
               "{S} {be} slurring like {S} {be} drunk but {S} had nothing to drink",
               "half of {P} face stopped working all of a sudden",
               "{S} {cant} hold a cup in {P} right hand anymore since an hour ago and {P} speech is thick",
               "{S} just lost the vision in one eye and {P} hand went weak",
               "{S} {be} mixing up {P} words and {P} face looks uneven"],
    "breathing": ["{S} {be} panting and {cant} finish a sentence",
                  "{S} {be} fighting for every breath",
                  "{P} breathing is so bad {S} {cant} walk to the bathroom without stopping",
                  "{S} {be} wheezing and {P} rescue inhaler did nothing",
                  "{P} lips and fingertips look bluish gray",
                  "{S} {be} going purple around the mouth and breathing real fast",
                  "{S} {be} sucking in air and the skin between {P} ribs pulls in",
                  "{S} {be} breathless even lying down and it keeps getting worse",
                  "{S} {be} so out of breath {S} {cant} speak more than two words"],
    "anaphylaxis": ["{P} lips swelled up huge after the new medicine and {S} {feels} like {S} {cant} swallow",
                    "{P} tongue {feels} thick and itchy since {S} took the antibiotic",
                    "{S} broke out in hives after the shot and {P} lips and eyes are puffing up",
                    "{P} mouth is swelling and {P} voice sounds funny after eating cashews",
                    "{S} got stung and now {P} whole face is puffy and {S} {be} coughing and wheezy",
                    "{P} throat {feels} scratchy and tight and {P} tongue is getting bigger after the new pill",
                    "{S} {be} having a reaction to the penicillin {P} face is swelling and {S} {be} hard to understand"],
    "bleeding": ["{S} {be} spitting up blood clots",
                 "{S} {be} puking blood", "there's blood squirting from the cut on {P} leg",
                 "the bleeding from {P} hand won't quit even with pressure",
                 "{S} sliced {P} hand with a knife and it's pouring out",
                 "{S} vomited what looked like coffee grounds and {be} lightheaded",
                 "{S} {be} pooping a lot of blood and {feels} faint"],
    "overdose": ["{S} took twenty of {P} anxiety pills", "{S} took a handful of {P} blood pressure pills on purpose",
                 "{S} took all of {P} pain pills at once", "{S} swallowed a bunch of {P} mom's pills",
                 "{S} drank bleach", "the baby drank some of the window cleaner",
                 "{S} ate a pod of laundry detergent", "{S} got into grandma's heart pills and ate some",
                 "{S} drank lighter fluid", "{S} took way too much insulin",
                 "{S} chugged a bottle of cough syrup and {be} really out of it"],
    "suicidal": ["{S} {says} {S} {be} going to end {P} life tonight", "{S} {wants} to die and {have} a gun",
                 "{S} {be} planning to take all {P} pills so {S} won't wake up",
                 "{S} texted that {S} {be} saying goodbye and going to kill {R}",
                 "{S} {have} been cutting {R} and {says} {S} {wants} to be dead",
                 "{S} {says} {S} {be} better off dead and {have} a plan"],
    "unresponsive": ["{S} keeled over and {be} not moving", "{S} dropped to the ground and {be} not answering me",
                     "{S} {be} slumped on the couch and i can't get {O} to wake up",
                     "{S} {be} out cold and barely breathing", "{S} fainted and hasn't come to",
                     "{S} {be} limp and won't open {P} eyes", "{S} went down and {be} not responding to {P} name"],
    "seizure": ["{S} {be} having convulsions", "{S} {be} jerking all over and {P} eyes are rolling",
                "{S} {be} having another seizure and it won't stop",
                "{S} went stiff and started shaking on the floor",
                "{S} had a fit and {be} foaming at the mouth"],
    "head_injury": ["{S} hit {P} head in a car crash and {keeps} forgetting things and {P} head is pounding",
                    "{S} smacked {P} head on the ice and now {S} {be} throwing up",
                    "{S} fell down the stairs and hit {P} head and {be} not making sense",
                    "{S} banged {P} head and {be} acting dazed and drowsy",
                    "{S} bonked {P} head at the playground and threw up twice",
                    "{S} got hit in the head with a bat and {be} confused and sleepy",
                    "after the fall {S} {be} vomiting and {P} head hurts really bad"],
    "altered": ["{S} {be} not making any sense and {P} sugar is in the thirties",
                "{S} {be} suddenly really confused and {does} not know where {S} {be}",
                "{P} blood sugar meter says forty and {S} {be} acting strange",
                "{S} {be} very drowsy and confused out of nowhere",
                "{S} {be} seeing things and {be} confused and burning up with fever"],
    "pregnancy": ["{S} {be} twenty eight weeks pregnant and bleeding heavily",
                  "{S} {be} expecting and there's blood running down {P} legs",
                  "{S} {be} pregnant and {have} bad belly pain and bleeding",
                  "{S} {be} in {P} second trimester and soaked through with blood"],
}
for _flag, _cores in EMERGENCY_MORE.items():
    EMERGENCY[_flag].extend(_cores)
INFANT += ["my {age} old is running a fever of {temp}", "the newborn has a temp of {temp}",
           "our {age} old feels hot and the reading was {temp}", "my {age} old granddaughter has a temperature of {temp}"]
FEVERS += ["one hundred point nine", "a hundred and one point five", "a hundred point six", "thirty nine"]

URGENT += ["{P} fever is a hundred and three and {S} {be} cranky and not eating much",
           "{S} {have} had a temperature of a hundred and two for two days",
           "{P} fever hit a hundred and four last night",
           "{P} cut is red and streaky and warm",
           "{S} {have} been throwing up since this morning and {cant} keep anything down",
           "{S} {have} pneumonia and {be} not getting better on the medicine",
           "{P} toe is red and swollen and oozing pus",
           "{S} {have} a bad urinary infection with fever and back pain",
           "{P} eye is swollen shut and red and {S} {have} a fever",
           "{S} {have} a rash spreading fast after the new medicine but no trouble breathing"]

NEGATIVES += [
    ("symptom", "{S} bumped {P} head on the door yesterday and {feels} totally fine"),
    ("symptom", "{S} hit {P} head on the car door but no headache no throwing up nothing"),
    ("symptom", "{S} {be} a little short of breath when {S} jog since {P} cold"),
    ("symptom", "{S} get winded going up stairs lately"),
    ("symptom", "{P} heart feels like it flutters now and then but no chest pain"),
    ("symptom", "{S} {have} some heart palpitations when {S} drink coffee"),
    ("symptom", "{S} {be} not bleeding or anything but {S} {have} a mole that changed"),
    ("symptom", "{S} {have} a nosebleed that stopped after a few minutes"),
    ("symptom", "{P} lips are chapped and dry"),
    ("symptom", "{S} {have} a little rash from the new soap no swelling"),
    ("symptom", "{P} allergies are acting up sneezing and itchy eyes"),
    ("symptom", "{S} {be} pregnant and {have} some heartburn"),
    ("symptom", "{S} {be} pregnant and {have} a little spotting that stopped yesterday"),
    ("symptom", "{P} three year old has a fever of a hundred and one but is playing"),
    ("symptom", "{S} {have} a cold and a little fever"),
    ("symptom", "{S} {be} sad and stressed lately and want to talk to someone"),
    ("symptom", "{S} {feels} dizzy when {S} stand up too fast"),
    ("symptom", "{S} cut {P} finger shaving and it bled a little"),
    ("symptom", "{S} {have} tingling in {P} toes off and on for months"),
    ("symptom", "{S} {have} had a cough and sore throat for a few days and want to know if {S} should come in"),
    ("records", "{S} {needs} the er records from {P} seizure last year"),
    ("records", "the cardiologist wants the notes from {P} chest pain visit"),
    ("refill", "{S} {needs} a refill of {P} epipen"),
    ("refill", "{S} {needs} more of {P} anxiety pills the bottle is almost empty"),
    ("refill", "{S} {be} out of {P} rescue inhaler and want a refill"),
    ("results", "did {P} heart monitor results come back"),
    ("results", "what did the ct of {P} head show after the fall last month"),
    ("appointment", "{S} {needs} a follow up after {P} overdose hospital stay last year"),
    ("provider", "tell the doctor the swelling in {P} lips went away after the new allergy pill"),
    ("provider", "please let the doctor know {P} breathing is much better now"),
    ("billing", "{S} got a bill for the ambulance ride when {S} passed out last month"),
    ("administrative", "{S} {needs} a note for work about {P} asthma"),
]

TYPES_MORE = {
    "refill": ["can doctor {doc} renew my {med}", "my {med} bottle says zero refills", "please send {med} to {pharm} i'm all out",
               "i need my {med} prescription sent over", "calling for a refill of {med} for my mom"],
    "appointment": ["do you have any openings with a woman doctor {day}", "i can't make it tomorrow so i have to cancel",
                    "i'd like to come in for my yearly checkup", "can i get in to see someone {day}",
                    "i need to book a visit for my son", "i want to switch my appointment from {day} to later",
                    "can i make a new patient appointment", "i'd like to be seen about my knee"],
    "symptom": ["{S} {have} had a sore throat and a cough for a while", "{S} {have} a mole that looks different",
                "{P} stomach has been upset for a few days", "{S} {have} a rash that won't go away",
                "{S} {have} had a headache on and off", "{P} joints ache in the morning"],
    "results": ["can somebody walk me through my lab values", "i need my covid test result for work",
                "did my {test} show anything broken", "can you read me the results of my {test}",
                "my doctor said she'd call with results and i haven't heard", "what did the {test} say"],
    "referral": ["could you set me up with a heart specialist", "can i get sent to {spec}",
                 "i need a referral so {spec} will see me", "i want to see {spec} about my {test}"],
    "billing": ["i have new insurance and need to give you the card", "how much is a visit if i pay cash",
                "i got an explanation of benefits and don't understand it", "my insurance changed and billing needs the new member id",
                "why did my insurance not pay for my visit", "i want to pay my bill", "my statement has the wrong insurance on it"],
    "prior_auth": ["they said i need a p a for {med}", "{med} is not on my formulary and they need a letter",
                   "the pharmacy is waiting for the prior auth on {med}", "insurance needs approval before my {test}",
                   "can the doctor send the authorization paperwork for {med}"],
    "records": ["can you send my {test} results to my surgeon", "my new doctor needs my chart",
                "please send my records to {spec}", "i need a copy of my vaccine card", "can you fax my chart to the hospital"],
    "callback": ["i'm calling back someone from your office called me", "i got a voicemail from the office to call back",
                 "returning a call from the nurse", "please call me back at this number", "someone called me about my appointment and i'm calling back"],
    "urgent": ["i need help right now it's urgent", "please i need a nurse right away", "this can't wait i need someone now"],
    "administrative": ["do you accept {ins}", "do you take {ins} insurance", "is there parking at your office",
                       "when do you guys close this afternoon", "what's your address", "are you taking new patients",
                       "i need a work excuse note", "can you fill out my fmla paperwork"],
    "provider": ["i want to discuss my treatment options with my provider", "can you pass a message to the nurse practitioner",
                 "i want to speak with the physician assistant i saw", "is doctor {doc} available to speak with me",
                 "this is the visiting nurse with an update for doctor {doc}", "please let doctor {doc} know i'm doing better",
                 "i have a question for doctor {doc} about my medicine", "tell the doctor the new medicine is helping",
                 "can doctor {doc} call me about what we discussed"],
}
INSURERS = ["medicare", "medicaid", "blue cross", "aetna", "cigna", "united healthcare", "humana", "tricare"]
DOCTORS = ["smith", "patel", "nguyen", "garcia", "kim", "johnson", "lee", "brown", "okafor"]
for _kind, _cores in TYPES_MORE.items():
    TYPES[_kind].extend(_cores)

# Everyday aches and complaints: the everyday symptom calls outnumber emergencies on a real line.
NEGATIVES += [(
    "symptom", core) for core in [
    "{S} strained {P} back moving furniture", "{S} tweaked {P} neck sleeping wrong",
    "{P} shoulder aches when {S} reach up", "{P} elbow hurts after playing tennis",
    "{S} {have} a pulled muscle in {P} leg from the gym", "{P} lower back has been sore for a week",
    "{P} hip hurts when {S} walk up stairs", "{P} wrist hurts from typing all day",
    "{S} twisted {P} ankle stepping off a curb", "{P} knees ache when it's cold",
    "{S} {have} a stiff neck and a mild headache from stress", "{P} foot hurts in the morning",
    "{S} {have} a cold sore on {P} lip", "{S} {have} an ingrown toenail",
    "{S} {have} been coughing at night for a week but otherwise fine", "{P} stomach is a bit upset after dinner",
    "{S} {have} a fever of a hundred and one and body aches", "{P} eight year old has a fever of a hundred and three and a sore throat",
    "{P} teenager has a temperature of a hundred and two and the flu", "{P} five year old is running a hundred and three but drinking fine",
    "{S} got stung by a bee and it's just red and itchy where it stung", "{S} {have} mild wheezing with {P} cold and {P} inhaler helps",
]]
URGENT += ["{P} six year old has had a fever of a hundred and four since yesterday",
           "{P} toddler's fever is a hundred and three point five and {S} won't eat",
           "{S} {have} been dizzy with diarrhea since yesterday"]
EMERGENCY["breathing"] += ["{S} {cant} cross the room without stopping to get {P} breath",
                           "{S} {be} wheezing and has to stop every few steps to breathe"]
EMERGENCY["anaphylaxis"] += ["{S} {be} allergic to wasps and just got stung and {feels} faint and wheezy",
                             "after the sting {S} {be} dizzy and {P} chest is tight and {S} {be} wheezing"]
TYPES["provider"] += ["let doctor {doc} know the cream is working", "can you tell the doctor {P} cough is better",
                      "please pass along to doctor {doc} that the new dose is helping",
                      "i want to ask my doctor something about my sugar readings",
                      "i need to ask the doctor about the numbers on my home blood pressure cuff"]
TYPES["results"] += ["any word on my {test}", "any news about my {test}", "has my {test} come back yet",
                     "is my urine culture back"]
TYPES["records"] += ["the school wants {P} vaccination record", "my daughter's camp needs her shot record",
                     "i need a copy of my son's immunizations for daycare"]
TYPES["symptom"] += ["{P} back went out when {S} bent over", "{P} shoulder has hurt since {S} fell"]

# --- Third round (triage-v3): new phrasings of the kinds the dev sets showed are hard, written fresh ---
# Passive and understated suicidal intent, overdose said in passing, understated chest pain,
# infants, pregnancy, and hard negatives: history-of, "last few pills", a bump and fine, idioms.
# {H}/{Hb}: the subject as a pronoun ("i"/"he"/"she", "i'm"/"he's"/"she's").
EMERGENCY_V3 = {
    "suicidal": ["{S} {does} not want to be here anymore and {S} {have} been saving up {P} pills",
                 "{S} {says} {H} just {wants} to go to sleep and never wake up",
                 "{S} {have} been giving away {P} things and saying goodbye to everyone",
                 "{S} {have} {P} pills all counted out and {does} not see any way out",
                 "{S} {be} tired of living and there's a rope in the garage",
                 "{S} {says} everyone would be better off if {H} were gone",
                 "{S} wrote goodbye letters and {be} talking about jumping off the bridge",
                 "{S} {cant} go on like this and {be} ready to end everything tonight",
                 "{S} {have} been stockpiling {P} pills to take them all at once",
                 "{S} {says} {Hb} not going to be around much longer and there's a gun in the house",
                 "there's no point anymore and {S} {have} the pills right here",
                 "{S} {be} on the bridge right now and {wants} to jump",
                 "{S} {says} {Hb} going to make it all stop for good tonight",
                 "{S} {feels} like a burden and {have} a plan to do it this weekend",
                 "{S} {be} done fighting and {have} the pills ready"],
    "overdose": ["{S} took all of {P} pills at once",
                 "{S} took the whole pack of {P} sleeping pills",
                 "{S} mixed {P} pain pills with vodka and {be} really drowsy",
                 "{S} {be} breathing really slow after taking extra oxycodone",
                 "{S} took a lot of extra pills and {be} not acting right",
                 "{S} swallowed some rat poison",
                 "{S} chewed on a nicotine pouch and {be} throwing up and sweaty",
                 "{S} emptied the bottle of {P} antidepressants",
                 "i found {O} next to an empty pill bottle",
                 "{S} drank some of the weed killer from the shed",
                 "{S} ate a bunch of the gummies with the pot in them and {be} barely awake",
                 "{S} used something and now {be} blue and hardly breathing"],
    "chest": ["it's probably nothing but {P} chest {feels} tight and {P} arm is tingly",
              "probably just gas but {S} {have} pressure in {P} chest and {be} all sweaty",
              "i don't want to make a fuss but {P} chest has been aching and {P} jaw hurts too",
              "{S} {have} an uncomfortable fullness in {P} chest and {feels} sick and lightheaded",
              "{P} chest {feels} heavy and weird and {P} left arm is kind of numb",
              "{S} {have} a dull ache in {P} chest that comes with sweating and nausea",
              "{S} {thinks} it's indigestion but it's spreading into {P} shoulder and {be} short of breath",
              "{P} heart is racing and {P} chest hurts and {S} almost passed out"],
    "stroke": ["{P} speech sounds funny and {P} hand won't grip all of a sudden",
               "{S} {be} not acting like {R} and one side of {P} face looks lopsided",
               "{S} {keeps} dropping things with {P} left hand and the words are coming out wrong since lunch",
               "{S} suddenly {cant} find {P} words and {P} arm {feels} heavy",
               "{P} face looks crooked and {S} {be} confused all of a sudden",
               "{S} suddenly {have} trouble walking and {be} seeing double"],
    "breathing": ["{P} lips look a little blue and {S} {be} breathing funny",
                  "{S} {be} making a whistling noise and {cant} catch {P} breath",
                  "{S} {be} drooling and {cant} swallow and {be} struggling to breathe",
                  "{S} {be} grunting with every breath and {P} nostrils are flaring",
                  "{S} {be} too out of breath to talk"],
    "anaphylaxis": ["{P} face is puffing up and {P} throat is scratchy after the bee sting",
                    "{S} ate shrimp and now {P} lips are tingling and {P} throat {feels} thick",
                    "{S} used {P} epipen and still {feels} like {P} throat is tight"],
    "bleeding": ["{S} {be} losing a lot of blood from {P} leg and {be} getting pale",
                 "{P} wound is bleeding through the bandage and won't stop",
                 "{S} {have} been throwing up blood clots",
                 "there's blood pumping out of {P} arm",
                 "{S} {be} bleeding heavily from {P} bottom and {feels} faint"],
    "unresponsive": ["{S} {be} on the floor and won't answer me", "i can't get {O} to respond",
                     "{S} just dropped and {be} not waking up", "{S} {be} breathing but won't wake up no matter what i do"],
    "seizure": ["{S} {be} convulsing on the floor", "{S} {be} having a seizure that has lasted five minutes",
                "{S} had two seizures in a row and {be} not waking up in between",
                "{S} stiffened up and {be} shaking and {P} lips are blue"],
    "head_injury": ["{S} fell and whacked {P} head and {keeps} throwing up",
                    "{S} {be} on blood thinners and fell and hit {P} head and now {be} vomiting",
                    "{S} took a hard hit to the head and {be} not acting right and {be} drowsy",
                    "{S} hit {P} head and {P} pupils look like different sizes"],
    "altered": ["{S} {be} suddenly not {R} and {does} not recognize anyone",
                "{S} {be} really confused and mumbling and {cant} stay awake"],
    "pregnancy": ["{S} {be} expecting and {be} bleeding a lot with clots",
                  "{S} {be} nine weeks pregnant and {have} sharp pain on one side and {feels} faint",
                  "{S} {be} pregnant and the bleeding keeps getting heavier",
                  "{S} {be} pregnant and {P} water broke and there's a lot of blood",
                  "{S} {be} thirty weeks along and bleeding"],
}
# Household chemicals swallowed (poison-control calls), by name.
CHEMICALS = ["gasoline", "kerosene", "paint thinner", "nail polish remover", "a bottle of mouthwash", "essential oil",
             "toilet bowl cleaner", "drain cleaner", "windshield washer fluid", "bug spray", "a dishwasher pod",
             "the fertilizer", "the pool chlorine", "furniture polish", "hand sanitizer"]
EMERGENCY_V3["overdose"] += [f"{{S}} drank some {c}" for c in CHEMICALS[::2]] + \
                            [f"{{S}} swallowed {c} and {{be}} coughing" for c in CHEMICALS[1::2]]
for _flag, _cores in EMERGENCY_V3.items():
    EMERGENCY[_flag].extend(_cores)
INFANT += ["{age} old baby is hot to the touch the thermometer says {temp}", "my baby is only {age} old and running {temp}",
           "the baby's {age} old and feels feverish it read {temp}",
           "our newborn is {age} old with a temp of {temp} and isn't feeding well",
           "my {age} old has a fever of {temp} and is really sleepy"]
INFANT_AGES += ["six weeks", "nine week", "three day", "2 month", "6 week"]
FEVERS += ["100.4", "100.6", "101", "101.5", "38.3"]

URGENT += ["{P} stitches came apart a little and it's leaking yellow fluid",
           "{P} surgical wound opened up a bit and {be} draining",
           "{P} incision is separating at one end and looks red",
           "{P} ear is throbbing and there's pus draining out of it",
           "{S} {have} a fever and {P} side hurts and it burns to pee"]

NEGATIVES += [
    ("refill", "{S} only {have} two pills left of {P} blood pressure medicine"),
    ("refill", "{S} {be} down to the last couple of {P} heart pills"),
    ("refill", "{S} {have} three tablets left of {P} thyroid medicine"),
    ("refill", "{S} {be} almost out of {P} pain pills and {needs} a new prescription"),
    ("refill", "{S} {have} {P} pills sorted in the weekly box but {be} running out of the water pill"),
    ("refill", "{S} {needs} a refill of {P} sleeping pills"),
    ("refill", "{S} {needs} more of {P} antidepressant before the weekend"),
    ("refill", "{S} had a stroke a couple of years back and {needs} {P} clopidogrel refilled"),
    ("refill", "{S} had a heart attack in the past and {needs} more of {P} nitro spray"),
    ("refill", "{S} {have} had seizures since childhood and {needs} {P} keppra refilled"),
    ("refill", "{S} {be} going to run out of {P} insulin on friday"),
    ("symptom", "{S} had chest pain a while ago that turned out to be reflux and now the heartburn is back"),
    ("symptom", "{S} had a heart attack years ago and lately {P} ankles are a bit puffy"),
    ("symptom", "{S} {be} feeling a bit down and unmotivated lately but {be} safe"),
    ("symptom", "{S} {be} stressed and not sleeping well and {wants} to talk to someone about anxiety"),
    ("symptom", "{S} fell off the couch and bumped {P} head but {be} acting totally normal"),
    ("symptom", "{S} hit {P} forehead on the coffee table there's a goose egg but {be} playing fine"),
    ("symptom", "{S} knocked {P} head at soccer no throwing up no confusion just a bump"),
    ("symptom", "{S} {be} a little worried {P} blood pressure was high this morning but {feels} fine"),
    ("symptom", "{P} heart races when {S} get anxious but it settles down after a few minutes"),
    ("symptom", "{S} {be} out of breath after three flights of stairs but fine once {S} rest"),
    ("symptom", "{P} chest is sore from coughing so much with this cold"),
    ("symptom", "{S} pulled a muscle in {P} chest lifting boxes and it hurts when {S} twist"),
    ("symptom", "{S} {have} a bruise on {P} arm from bumping into the table"),
    ("symptom", "{S} {be} pregnant and {have} mild back aches"),
    ("symptom", "{S} {be} pregnant and {feels} a little nauseous in the mornings"),
    ("symptom", "{P} one year old has a fever of a hundred and one but is eating and playing"),
    ("symptom", "{P} baby is four months old and has a slight fever after {P} shots"),
    ("symptom", "{P} back is killing {O}"),
    ("symptom", "{P} feet are killing {O} after standing all day"),
    ("symptom", "{S} {have} a scrape on {P} knee that bled a little and {be} fine now"),
    ("symptom", "{S} {have} a sore throat and it hurts to swallow but {S} {be} drinking fine"),
    ("appointment", "{S} {be} pregnant and {wants} to book {P} next ultrasound"),
    ("provider", "{S} had a mini stroke last year and {wants} to ask the doctor about {P} aspirin"),
    ("provider", "please tell the doctor {S} stopped bleeding after the procedure and {feels} fine"),
    ("records", "{S} {needs} the hospital records from an overdose years ago for {P} new therapist"),
    ("results", "{S} {be} dying to know if {P} biopsy came back"),
    ("results", "the waiting is killing {O} did {P} scan results come in"),
    ("billing", "{S} almost passed out when {S} saw the bill"),
    ("billing", "this bill is giving {O} a heart attack"),
    ("callback", "sorry {P} phone died when the nurse called can she call back"),
]

TYPES_V3 = {
    "billing": ["why do i owe money if my insurance already paid", "i need to pay the balance on my account",
                "can you explain the charges on my statement", "what's my balance", "my deductible was applied wrong",
                "i'd like to update the card on file for my payments", "i got sent to collections by mistake"],
    "records": ["can you send me a copy of my visit summary", "i need the notes from my last appointment",
                "i need my lab reports sent to {spec}", "can i pick up a copy of my records",
                "i need my x ray images on a disc for another doctor"],
    "administrative": ["i need the doctor to sign a form for my job", "can you fill out a camp health form for my son",
                       "i need a letter saying i can return to work", "do you have evening hours",
                       "is the office open the day after thanksgiving", "i need to change the name on my file"],
    "prior_auth": ["my insurance needs the doctor's approval before they cover {med}",
                   "the mri place says the authorization hasn't come through",
                   "insurance wants a letter explaining why i need {med}"],
    "provider": ["can i take tylenol with my {med}", "is it okay to take {med} at night instead of the morning",
                 "i have a question about a side effect of {med}", "should i keep taking {med} while i'm sick",
                 "can i cut my {med} pills in half", "the doctor said to call and tell her how the new dose is going"],
    "refill": ["i need {med} refilled", "please renew {med} i'm almost out", "can you send in a refill for {med} today",
               "i'm on my last few pills of {med}"],
    "appointment": ["i'm running a few minutes behind for my appointment", "i'd like to confirm my appointment {day}",
                    "can i get a sick visit today", "do you have anything {day} afternoon",
                    "i need to bring my daughter in for a checkup"],
    "callback": ["the nurse called me and i missed it", "i'm returning a missed call from this number",
                 "you left me a voicemail this morning"],
    "results": ["has the doctor looked at my {test} yet", "are the results from my {test} back yet",
                "i'd like someone to go over my {test} with me"],
    "referral": ["i need a referral for {spec} my insurance requires it", "can you put in a referral to {spec} for my son"],
    "symptom": ["{S} {have} had a stuffy nose and a headache for a few days", "{P} throat is scratchy and {S} {have} a cough",
                "{S} {have} been run down and tired for weeks", "{S} {have} not been sleeping well and {be} exhausted",
                "my period is two weeks late", "{S} {have} been feeling low and {wants} to talk to someone about it",
                "{P} toddler has been tugging at {P} ear and is fussy", "{P} eye is goopy and red this morning",
                "{S} {have} a rash on {P} back that itches"],
}
for _kind, _cores in TYPES_V3.items():
    TYPES[_kind].extend(_cores)
OPENERS += ["yeah so um ", "okay um so basically ", "hi yes ", "so i was wondering ", "hey it's me again "]
TAILS += [" and i didn't know if i should call", " sorry i'm rambling", " can someone help"]


# --- v4: the kinds the fifth dev set (E) showed missing, and the same-day criteria ---------------
EMERGENCY_V4 = {
    # Understated chest pressure without the word pain.
    "chest": ["there's a weight sitting behind {P} breastbone and it goes up into {P} throat",
              "{S} {have} a heavy feeling in the center of {P} chest that spreads to {P} neck",
              "{P} breastbone area {feels} tight and squeezed and it moves up to {P} jaw",
              "it's more of a pressure than a pain right in the middle of {P} chest and up into {P} shoulders",
              "{S} {have} this dull ache under {P} sternum and {be} short of breath",
              "{S} {have} a strange tightness behind {P} breastbone and {be} clammy",
              "it's not really pain just heaviness in {P} chest like a brick on it and {P} jaw aches",
              "{P} chest {feels} full and heavy and the feeling runs down {P} arm",
              "{S} {have} a discomfort in {P} chest that comes and goes and now {S} {be} sweating a lot",
              "{P} upper chest {feels} like it's being pressed and {S} {feels} sick to {P} stomach"],
    # Gastrointestinal bleeding said plainly.
    "gi_bleed": ["{P} stool is black and sticky like tar and {S} nearly fainted",
                 "{S} {have} been passing black tarry poop and {feels} dizzy when {S} stand",
                 "{S} threw up stuff that looked like coffee grounds",
                 "{S} {be} vomiting dark brown stuff like coffee grounds",
                 "there's a lot of dark red blood in the toilet and {S} {be} lightheaded",
                 "{P} bowel movements are black and {S} almost passed out this morning",
                 "{S} {have} maroon colored stool and {be} pale and weak",
                 "{S} went to the bathroom and it was all blood and now {S} {feels} faint",
                 "{S} {be} pooping black and {be} so dizzy {S} had to sit on the floor",
                 "the vomit has dark grainy bits in it like coffee and {S} {feels} weak"],
}
for _flag, _cores in EMERGENCY_V4.items():
    EMERGENCY.setdefault(_flag, []).extend(_cores)

# Same-day ("see today") criteria: urgent, not 911.
URGENT += ["{S} can hardly swallow and {be} drooling",
           "{P} throat is so sore {S} can barely get water down",
           "{S} {cant} swallow {P} own saliva it hurts so much",
           "there's a red line running up {P} arm from the scratch",
           "{P} finger cut has a red streak spreading toward {P} wrist",
           "the bite on {P} leg has red streaks coming off it",
           "{S} got poked in the eye and {P} vision is blurry",
           "something flew into {P} eye at work and now it's blurry and watering",
           "{P} eye got hit playing ball and {S} {cant} see right out of it",
           "{S} fell and {cant} put weight on {P} ankle",
           "{S} twisted {P} knee and {cant} walk on it",
           "{S} slipped on the ice and {cant} stand on {P} foot",
           "{P} calf is swollen and sore since the long car ride",
           "one of {P} calves is bigger than the other and it aches",
           "{P} leg swelled up after the flight and the calf hurts",
           "{P} ear hurts and there's yellow stuff draining out",
           "{P} ear is leaking fluid and it's really painful",
           "{P} stitches came open and the cut is oozing",
           "the incision is coming apart at the bottom",
           "{P} wound opened up and there's some pus",
           "it burns when {S} pee and {S} {have} a fever and chills",
           "{S} {have} a bladder infection and now {P} side hurts",
           "{S} {have} a uti and a pain in {P} back on one side",
           "{S} {have} a fever and spots that don't fade when you press them",
           "{P} stool has been black since yesterday but {S} {feels} okay otherwise",
           "{P} toddler has a fever of a hundred and three point five and is really whiny",
           "{P} fever went up to one oh four and tylenol is not bringing it down"]

NEGATIVES += [
    ("symptom", "{P} chest pain was checked at the hospital last week and they said it's a pulled muscle"),
    ("symptom", "the er said {P} chest pain was reflux and {S} want to know what to eat"),
    ("symptom", "{S} saw the cardiologist about {P} chest pain and it was all normal {S} just {have} a question"),
    ("symptom", "{P} chest wall is tender from costochondritis like the doctor said"),
    ("provider", "the doctor checked {P} chest pain and said it's anxiety can she call about the medicine"),
    ("appointment", "{S} {needs} the follow up the er wanted after they cleared {P} chest pain"),
    ("symptom", "{P} nine month old has a low fever of ninety nine point eight"),
    ("symptom", "{P} baby is ten months old and has a temperature of a hundred and one but is drinking well"),
    ("symptom", "{P} seven month old has a slight fever of ninety nine point five and a runny nose"),
    ("symptom", "{P} eight month old feels warm the thermometer says ninety nine point six"),
    ("symptom", "{P} one year old has a fever of a hundred point five and is teething"),
    ("symptom", "{P} six month old has had a fever of a hundred and one since last night"),
    ("symptom", "{S} {be} taking iron pills and {P} stool is dark"),
    ("symptom", "{S} took pepto and now {P} poop is black is that normal"),
    ("symptom", "{S} {have} a bit of heartburn behind {P} breastbone after big meals"),
    ("symptom", "{P} neck is stiff from sleeping wrong"),
    ("symptom", "{P} eye is a little blurry in the morning but clears up"),
    ("symptom", "{S} {have} a little earwax and {P} ear feels plugged"),
    ("symptom", "{S} rolled {P} ankle but {be} walking on it fine"),
    ("symptom", "{P} eleven month old is a little warm ninety nine point nine but eating fine"),
    ("symptom", "{P} five month old has a low grade temp of ninety nine point seven after the shots"),
    ("symptom", "{P} baby is nine months and running a small fever of a hundred"),
    ("administrative", "is blue cross in network with your office"),
    ("callback", "someone from your office called me and i missed it"),
]


# Phone speech as the recogniser writes it: fillers, no punctuation, dropped little words, tense
# changes ("drank" -> "drink") and common Whisper mishearings.
FILLERS = ["um", "uh", "like", "you know", "so", "i mean"]
DROPPABLE = {"the", "a", "is", "my", "and", "to", "of", "it", "in", "up", "has", "was", "are", "on", "for"}
TENSE = {"drank": "drink", "took": "take", "swallowed": "swallow", "fell": "fall", "hit": "hits", "got": "get",
         "started": "start", "passed": "pass", "threw": "throw", "went": "go", "woke": "wake", "ate": "eat",
         "was": "is", "were": "are", "has": "have", "stopped": "stop", "turned": "turn",
         "swelled": "swell", "collapsed": "collapse", "cut": "cuts", "bled": "bleed"}
MISHEARD = {"chest": "chess", "breathe": "breed", "breath": "breast", "pee": "p", "their": "there",
            "two": "to", "eight": "ate", "throat": "thrott", "stroke": "strong", "seizure": "caesar",
            "sugar": "shugar", "heart": "hard", "arm": "our", "bleeding": "bleed in", "rash": "wrash",
            "his": "is", "is": "his", "her": "a", "he's": "he is", "she's": "she is", "lamp": "lamb", "oil": "all"}


def as_heard(text):
    words = text.replace(",", "").replace(".", "").replace("?", "").split()
    out = []
    for w in words:
        r = random.random()
        if w in DROPPABLE and r < 0.2:
            continue
        if w in TENSE and r < 0.5:
            w = TENSE[w]
        elif w in MISHEARD and r < 0.25:
            w = MISHEARD[w]
        out.append(w.replace("'", "") if random.random() < 0.3 else w)
        if random.random() < 0.08:
            out.append(random.choice(FILLERS))
    return " ".join(out)

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
        .replace("{day}", random.choice(DAYS)).replace("{ins}", random.choice(INSURERS)) \
        .replace("{doc}", random.choice(DOCTORS))


def main():
    rows = []
    for flag, cores in EMERGENCY.items():
        people = ADULTS if flag in ("chest", "stroke", "pregnancy") else ALL
        if flag in ("unresponsive", "seizure"):
            people = [p for p in people if p != "i"]
        if flag == "pregnancy":
            people = ["i", "wife", "daughter", "friend", "patient"]
        for core in cores:
            for n, who in enumerate(random.sample([p for p in people if not (p == "i" and "{O}" in core)], 4)):
                text = frame(core, who)
                rows.append(("urgent", "emergency", as_heard(text) if n == 3 else text))
    for core in INFANT:
        for _ in range(4):
            t = core.replace("{age}", random.choice(INFANT_AGES)).replace("{temp}", random.choice(FEVERS))
            rows.append(("urgent", "emergency", (random.choice(OPENERS) + t + random.choice(TAILS)).strip()))
    for core in URGENT:
        for n, who in enumerate(random.sample(ALL, 4)):
            text = frame(core, who)
            rows.append(("symptom", "urgent", as_heard(text) if n == 3 else text))
    for kind, core in NEGATIVES:
        # Children too: without them "my son" alone would read as an emergency.
        people = ADULTS if "pregnant" in core or "job" in core or "work" in core else ALL
        for n, who in enumerate(random.sample(people, 3)):
            text = frame(core, who)
            rows.append((kind, "-", as_heard(text) if n == 2 else text))
    for kind, cores in TYPES.items():
        for core in cores:
            for _ in range(4 if len(cores) < 8 else 3):
                who = random.choice(ALL if kind == "symptom" else ADULTS)
                text = (random.choice(OPENERS[:12]) + fill(slot(core), who) + random.choice(["", "", " please", " thank you", " when you get a chance"])).strip()
                rows.append((kind, "-", as_heard(text) if random.random() < 0.2 else text))
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
