"""The seed categories of DOMAIN.md: COPA's report taxonomy plus the non-policing matters it
routes to councils, landlords and health partners."""

from __future__ import annotations


def _values(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "name": name} for key, name in pairs]


def _question(code, datatype, description, *, required=False, order=1, values=None):  # noqa: ANN001
    question = {
        "code": code,
        "datatype": datatype,
        "required": required,
        "description": description,
        "order": order,
        "variable": True,
    }
    if values is not None:
        question["values"] = values
    return question


SEED_CATEGORIES: list[dict] = [
    {
        "code": "asb",
        "name": "Antisocial behaviour",
        "group": "policing",
        "default_destination": "force_control_room",
        "description": "Behaviour causing harassment, alarm or distress in your area.",
        "keywords": ["asb", "nuisance", "youths", "harassment"],
    },
    {
        "code": "vehicle_asb",
        "name": "Vehicle antisocial behaviour (off-road bikes, nuisance driving)",
        "group": "policing",
        "default_destination": "force_control_room",
        "description": "Off-road bikes, quad bikes or cars being driven in a nuisance way.",
        "keywords": ["off-road", "motorbike", "quad", "nuisance driving"],
        "attributes": [
            _question(
                "vehicle_type",
                "singlevaluelist",
                "What kind of vehicle?",
                values=_values(
                    ("off_road_bike", "Off-road bike"),
                    ("quad_bike", "Quad bike"),
                    ("car", "Car"),
                    ("other", "Other"),
                ),
            ),
            _question("registration", "string", "Registration number, if you saw it", order=2),
        ],
    },
    {
        "code": "drugs",
        "name": "Drug dealing or use",
        "group": "policing",
        "default_destination": "force_control_room",
        "description": "Drug dealing, drug use or cannabis cultivation you have seen.",
        "keywords": ["drugs", "dealing", "cannabis"],
    },
    {
        "code": "suspicious",
        "name": "Suspicious behaviour",
        "group": "policing",
        "default_destination": "force_control_room",
        "description": "People, vehicles or activity that seem suspicious.",
        "keywords": ["suspicious", "loitering"],
    },
    {
        "code": "speeding",
        "name": "Vehicle speeding",
        "group": "policing",
        "default_destination": "force_control_room",
        "description": "Vehicles regularly speeding on a road.",
        "keywords": ["speeding", "speed"],
        "attributes": [
            _question(
                "time_of_day",
                "singlevaluelist",
                "When does it usually happen?",
                values=_values(
                    ("morning", "Morning"),
                    ("afternoon", "Afternoon"),
                    ("evening", "Evening"),
                    ("night", "Night"),
                    ("all_day", "All day"),
                ),
            ),
        ],
    },
    {
        "code": "hate_incident",
        "name": "Hate incident",
        "group": "policing",
        "default_destination": "force_control_room",
        "description": "An incident you believe was motivated by hostility or prejudice.",
        "keywords": ["hate", "prejudice"],
        "attributes": [
            _question(
                "motivation",
                "multivaluelist",
                "What do you think it was motivated by?",
                values=_values(
                    ("race", "Race or ethnicity"),
                    ("religion", "Religion or belief"),
                    ("sexual_orientation", "Sexual orientation"),
                    ("disability", "Disability"),
                    ("transgender", "Transgender identity"),
                    ("other", "Something else"),
                ),
            ),
        ],
    },
    {
        "code": "question",
        "name": "Question for the Commissioner's office",
        "group": "opcc",
        "default_destination": "opcc",
        "location_required": False,
        "description": "A question for the Office of the Police and Crime Commissioner.",
        "keywords": ["question", "commissioner", "pcc"],
    },
    {
        "code": "fly_tipping",
        "name": "Fly-tipping",
        "group": "non_policing",
        "default_destination": "council",
        "description": "Waste dumped illegally. Large amounts go to the Environment Agency.",
        "keywords": ["fly-tipping", "rubbish", "dumping", "waste"],
        "attributes": [
            _question(
                "size",
                "singlevaluelist",
                "How much waste is there?",
                required=True,
                values=_values(
                    ("small", "Small (up to a car boot load)"),
                    ("large", "Large (a lorry load or more)"),
                ),
            ),
            _question(
                "waste_type",
                "multivaluelist",
                "What kind of waste?",
                order=2,
                values=_values(
                    ("household", "Household"),
                    ("garden", "Garden"),
                    ("building", "Building rubble"),
                    ("tyres", "Tyres"),
                    ("hazardous", "Hazardous (asbestos, chemicals)"),
                    ("other", "Other"),
                ),
            ),
        ],
    },
    {
        "code": "abandoned_vehicle",
        "name": "Abandoned vehicle",
        "group": "non_policing",
        "default_destination": "council",
        "description": "A vehicle that appears to have been left for a long time.",
        "keywords": ["abandoned", "car", "vehicle"],
        "attributes": [
            _question("registration", "string", "Registration number", order=1),
            _question("days_seen", "number", "For about how many days has it been there?", order=2),
        ],
    },
    {
        "code": "noise",
        "name": "Noise nuisance",
        "group": "non_policing",
        "default_destination": "council",
        "description": "Persistent noise from a home, business or street.",
        "keywords": ["noise", "music", "party", "barking"],
        "attributes": [
            _question(
                "source",
                "singlevaluelist",
                "Where is the noise coming from?",
                values=_values(
                    ("domestic", "A home"),
                    ("commercial", "A business"),
                    ("street", "The street"),
                    ("alarm", "An alarm"),
                    ("other", "Other"),
                ),
            ),
        ],
    },
    {
        "code": "street_lighting",
        "name": "Street lighting fault",
        "group": "non_policing",
        "default_destination": "council",
        "description": "A street light that is out, flickering or damaged.",
        "keywords": ["street light", "lamp"],
        "attributes": [
            _question("column_number", "string", "Number on the lamp post, if visible"),
        ],
    },
    {
        "code": "highways",
        "name": "Pothole or road defect",
        "group": "non_policing",
        "default_destination": "council",
        "description": "Potholes, damaged pavements or road surfaces.",
        "keywords": ["pothole", "road", "pavement"],
    },
    {
        "code": "graffiti",
        "name": "Graffiti",
        "group": "non_policing",
        "default_destination": "council",
        "description": "Graffiti on walls, buildings or street furniture.",
        "keywords": ["graffiti", "vandalism"],
        "attributes": [
            _question(
                "offensive",
                "singlevaluelist",
                "Is it offensive?",
                values=_values(("yes", "Yes"), ("no", "No")),
            ),
        ],
    },
    {
        "code": "dog_fouling",
        "name": "Dog fouling",
        "group": "non_policing",
        "default_destination": "council",
        "description": "Dog mess left on paths or in public spaces.",
        "keywords": ["dog", "fouling"],
    },
    {
        "code": "housing_asb",
        "name": "Antisocial behaviour by a tenant",
        "group": "non_policing",
        "default_destination": "landlord",
        "description": "Antisocial behaviour by a tenant of a housing association; it goes to their landlord.",
        "keywords": ["tenant", "neighbour", "housing"],
        "attributes": [
            _question(
                "landlord",
                "singlevaluelist",
                "Who is the tenant's landlord?",
                required=True,
                values=_values(
                    ("thirteen", "Thirteen Housing"),
                    ("habinteg", "Habinteg Housing"),
                    ("other", "Another landlord"),
                    ("unknown", "I don't know"),
                ),
            ),
        ],
    },
    {
        "code": "welfare_concern",
        "name": "Concern for someone's welfare, no immediate risk",
        "group": "non_policing",
        "default_destination": "health_and_social_care",
        "description": "You are worried about someone but they are not in immediate danger "
        "(Right Care Right Person). If they are in danger now, call 999.",
        "keywords": ["welfare", "vulnerable", "concern"],
    },
]
